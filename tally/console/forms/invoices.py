"""The invoices list's filters, read from the URL so that a link (the overview's aging
figures) opens the list already narrowed; and the forms on an invoice's page."""

from datetime import date
from decimal import Decimal

from django import forms
from django.forms.renderers import Jinja2

from tally.money import MoneyError, exponent, format_money, parse_amount
from tally.payments.forms import not_a_day_to_come

from ..queries.invoices import SORTS, STATUS_LABELS, InvoiceFilters
from .common import AMOUNT_LIMIT, MAX_TEXT, KeyedForm

_JINJA2_WIDGETS = Jinja2()

AGING_CHOICES = [
    ("", "Any"),
    ("current", "Current (not yet due)"),
    ("1_30", "1–30 days past due"),
    ("31_60", "31–60 days past due"),
    ("61_90", "61–90 days past due"),
    ("over_90", "Over 90 days past due"),
]
FILTER_AMOUNT_ERRORS = {
    "invalid": "Enter the amount as a number, like 120.50.",
    "min_value": "Enter zero or more.",
    "max_value": "That amount is larger than any invoice.",
}


def _date(label: str) -> forms.DateField:
    return forms.DateField(
        required=False,
        label=label,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )


def _amount(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=AMOUNT_LIMIT,
        error_messages=FILTER_AMOUNT_ERRORS,
        label=label,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


class InvoiceFilterForm(forms.Form):
    default_renderer = _JINJA2_WIDGETS

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Invoice number or event reference",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "INV-000037, 37, order, tracking no."}
        ),
    )
    client = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Client")
    currency = forms.ChoiceField(required=False, label="Currency")
    status = forms.MultipleChoiceField(
        required=False,
        choices=[("outstanding", "Outstanding (unpaid)"), *STATUS_LABELS.items()],
        widget=forms.CheckboxSelectMultiple,
        label="Status",
    )
    issued_from = _date("Issued from")
    issued_to = _date("Issued to")
    due_from = _date("Due from")
    due_to = _date("Due to")
    amount_min = _amount("Amount from")
    amount_max = _amount("Amount to")
    aging = forms.ChoiceField(required=False, choices=AGING_CHOICES, label="Aging")
    as_of = _date("Aging as of")
    sort = forms.ChoiceField(required=False, choices=[(s, s) for s in SORTS])
    dir = forms.ChoiceField(required=False, choices=[("desc", "Descending"), ("asc", "Ascending")])

    def __init__(
        self,
        *args: object,
        clients: list[tuple[int, str]],
        currencies: list[str],
        today: date,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.today = today
        self.fields["client"].choices = [("", "Every client"), *clients]  # type: ignore[attr-defined]
        self.fields["currency"].choices = [("", "Any"), *((c, c) for c in currencies)]  # type: ignore[attr-defined]

    def clean_as_of(self) -> date | None:
        return not_a_day_to_come(self.cleaned_data.get("as_of"), self.today)

    def clean(self) -> dict:
        data = super().clean() or {}
        for lo, hi in [
            ("issued_from", "issued_to"),
            ("due_from", "due_to"),
            ("amount_min", "amount_max"),
        ]:
            if data.get(lo) is not None and data.get(hi) is not None and data[lo] > data[hi]:
                self.add_error(
                    hi, f"“{self.fields[hi].label}” must not be before “{self.fields[lo].label}”."
                )
        return data

    def _ok(self) -> dict:
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        return {k: v for k, v in data.items() if k not in self.errors}

    def filters(self) -> InvoiceFilters:
        """The valid part of the filters; an invalid field is shown with its error and ignored."""
        ok = self._ok()
        return InvoiceFilters(
            statuses=tuple(ok.get("status") or ()),
            client_id=ok.get("client"),
            currency=ok.get("currency") or "",
            issued_from=ok.get("issued_from"),
            issued_to=ok.get("issued_to"),
            due_from=ok.get("due_from"),
            due_to=ok.get("due_to"),
            amount_min=ok.get("amount_min"),
            amount_max=ok.get("amount_max"),
            aging=ok.get("aging") or "",
            as_of=ok.get("as_of"),
            search=ok.get("q") or "",
            # An aging figure of a day that cannot be asked for lists nothing, not today's.
            nothing=bool(ok.get("aging")) and "as_of" in self.errors,
        )

    @property
    def sort_key(self) -> str:
        value = self._ok().get("sort")
        return value if value in SORTS else "issue_date"

    @property
    def is_descending(self) -> bool:
        return self._ok().get("dir") != "asc"

    @property
    def as_of_date(self) -> date | None:
        return self._ok().get("as_of")

    @property
    def aging_phrase(self) -> str | None:
        key = self._ok().get("aging")
        return dict(AGING_CHOICES).get(key) if key else None


class VoidForm(KeyedForm):
    reason = forms.CharField(
        max_length=MAX_TEXT,
        label="Why is it void? (the client reads this)",
        error_messages={"required": "Say why the invoice is void; the client reads it."},
    )
    then = forms.ChoiceField(
        choices=[("void", "Void"), ("regenerate", "Void and regenerate")], required=False
    )

    @property
    def regenerate(self) -> bool:
        return self.cleaned_data.get("then") == "regenerate"


class CreditForm(KeyedForm):
    """A credit note for an amount, or for chosen lines: a chosen line is credited in
    full unless an amount is entered beside it."""

    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_value=AMOUNT_LIMIT,
        label="Amount to credit",
        error_messages={
            "invalid": "Enter the amount as a number, like 120.50.",
            "min_value": "Enter an amount above zero.",
            "max_value": "That amount is larger than any invoice.",
        },
    )
    lines = forms.TypedMultipleChoiceField(
        required=False, coerce=int, choices=[], label="Or credit these lines"
    )
    reason = forms.CharField(
        max_length=MAX_TEXT,
        label="Reason the client will read",
        error_messages={"required": "Write the reason the client will read."},
    )

    def __init__(
        self,
        *args: object,
        currency: str,
        balance_minor: int,
        lines: list[tuple[int, str, int]],  # (id, description, amount_minor)
        locale: str = "en_US",
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.currency = currency
        self.balance_minor = balance_minor
        self.locale = locale
        self.line_amounts = {line_id: amount for line_id, _, amount in lines}
        self.fields["lines"].choices = [(i, d) for i, d, _ in lines]  # type: ignore[attr-defined]
        for line_id, description, _ in lines:
            self.fields[f"line_{line_id}"] = forms.DecimalField(
                required=False,
                min_value=Decimal("0.01"),
                max_value=AMOUNT_LIMIT,
                label=f"Part of “{description}” to credit",
                error_messages={
                    "invalid": "Enter the amount as a number, like 120.50.",
                    "min_value": "Enter an amount above zero.",
                    "max_value": "That amount is larger than any invoice.",
                },
            )

    def _minor(self, field: str, value: Decimal) -> int | None:
        try:
            return parse_amount(value, self.currency)
        except MoneyError:
            places = exponent(self.currency)
            self.add_error(
                field,
                f"Enter the amount in {self.currency} with at most {places} decimals."
                if places
                else f"Enter the amount in whole {self.currency}.",
            )
            return None

    def clean(self) -> dict:
        data = super().clean() or {}
        chosen: list[int] = data.get("lines") or []
        amount = data.get("amount")
        data["amount_minor"] = None
        data["line_amounts"] = []
        if chosen and amount is not None:
            self.add_error("amount", "Credit either an amount or chosen lines, not both.")
            return data
        if not chosen and amount is None:
            if "amount" not in self.errors:
                self.add_error("amount", "Enter an amount, or choose the lines to credit.")
            return data
        if amount is not None:
            minor = self._minor("amount", amount)
            if minor is not None and minor > self.balance_minor:
                owed = format_money(self.balance_minor, self.currency, self.locale)
                self.add_error("amount", f"Must be at most {owed}, what the invoice still owes.")
            data["amount_minor"] = minor
            return data
        for line_id in chosen:
            name = f"line_{line_id}"
            part = data.get(name)
            whole = self.line_amounts[line_id]
            if part is None:
                if name not in self.errors:
                    data["line_amounts"].append((line_id, whole))
                continue
            minor = self._minor(name, part)
            if minor is None:
                continue
            if minor > whole:
                line_total = format_money(whole, self.currency, self.locale)
                self.add_error(name, f"Must be at most {line_total}, the line's amount.")
                continue
            data["line_amounts"].append((line_id, minor))
        total = sum(minor for _, minor in data["line_amounts"])
        if not self.errors and total > self.balance_minor:
            owed = format_money(self.balance_minor, self.currency, self.locale)
            self.add_error(
                "lines",
                f"These lines come to {format_money(total, self.currency, self.locale)}, "
                f"more than the {owed} the invoice still owes.",
            )
        return data
