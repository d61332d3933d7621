"""The invoice table's filters, read from the URL so a link can be shared."""

from datetime import date
from decimal import ROUND_DOWN, Decimal

from django import forms
from django.forms.renderers import Jinja2

from tally.disputes.forms import AttachmentsField
from tally.errors import DomainError
from tally.money import MAX_AMOUNT_DIGITS, MoneyError, exponent, parse_amount
from tally.payments.aging import BUCKET_KEYS
from tally.payments.forms import not_a_day_to_come

from .formatting import day
from .queries import AGING_BUCKETS, METHOD_LABELS, SORTS, STATUS_LABELS, InvoiceFilters
from .queries import MAX_DAYS as MAX_STATEMENT_DAYS

# The largest amount a filter or a dispute takes (parse_amount refuses larger).
AMOUNT_LIMIT = Decimal(10) ** MAX_AMOUNT_DIGITS - 1

# An AP clerk's words, not a validator's.
AMOUNT_ERRORS = {
    "invalid": "Enter the amount as a number, like 120.50.",
    "min_value": "Enter an amount above zero.",
    "max_value": "That amount is larger than any invoice.",
}
FILTER_AMOUNT_ERRORS = {**AMOUNT_ERRORS, "min_value": "Enter zero or more."}


def too_many_decimals(currency: str) -> str:
    """What to say when an amount has more decimals than the currency's minor unit."""
    places = exponent(currency)
    like = Decimal("120.50").quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    if places == 0:
        return f"Enter the amount in whole {currency}, like {like}."
    return f"Enter the amount in {currency} with at most {places} decimals, like {like}."


def _ranges_in_order(form: forms.Form, data: dict, ranges: list[tuple[str, str]]) -> dict:
    """A range given backwards is an error on its upper end, naming both ends."""
    for lo, hi in ranges:
        if data.get(lo) is not None and data.get(hi) is not None and data[lo] > data[hi]:
            form.add_error(
                hi, f"“{form.fields[hi].label}” must not be before “{form.fields[lo].label}”."
            )
    return data


# The statuses a stat card on the billing page filters the table by (its data-card).
CARD_STATUSES = ("outstanding", "overdue", "disputed")

SORT_LABELS = {
    "issue_date": "Issue date",
    "due_date": "Due date",
    "status": "Status",
    "amount": "Amount",
    "balance": "Balance",
}


# The filter form is drawn on every billing page: its widgets render through Jinja2
# (Django's own widget templates, compiled), faster than through Django's engine
# (bench/RESULTS.md, "Measured in passing").
_JINJA2_WIDGETS = Jinja2()


class InvoiceFilterForm(forms.Form):
    default_renderer = _JINJA2_WIDGETS

    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("outstanding", "Outstanding (unpaid)"),
            *STATUS_LABELS.items(),
        ],
    )
    issued_from = forms.DateField(
        required=False, label="Issued from", widget=forms.DateInput(attrs={"type": "date"})
    )
    issued_to = forms.DateField(
        required=False, label="Issued to", widget=forms.DateInput(attrs={"type": "date"})
    )
    due_from = forms.DateField(
        required=False, label="Due from", widget=forms.DateInput(attrs={"type": "date"})
    )
    due_to = forms.DateField(
        required=False, label="Due to", widget=forms.DateInput(attrs={"type": "date"})
    )
    amount_min = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=AMOUNT_LIMIT,
        error_messages=FILTER_AMOUNT_ERRORS,
        label="Amount from",
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    amount_max = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=AMOUNT_LIMIT,
        error_messages=FILTER_AMOUNT_ERRORS,
        label="Amount to",
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Invoice number or reference",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "INV-000123, order, tracking no."}
        ),
    )
    sort = forms.ChoiceField(required=False, choices=list(SORT_LABELS.items()))
    dir = forms.ChoiceField(required=False, choices=[("desc", "Descending"), ("asc", "Ascending")])
    bucket = forms.CharField(required=False, widget=forms.HiddenInput)
    as_of = forms.DateField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, currency: str, today: date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.currency = currency
        self.today = today

    def clean_as_of(self) -> date | None:
        return not_a_day_to_come(self.cleaned_data.get("as_of"), self.today)

    def clean(self) -> dict:
        return _ranges_in_order(
            self,
            super().clean() or {},
            [("issued_from", "issued_to"), ("due_from", "due_to"), ("amount_min", "amount_max")],
        )

    def _minor(self, value: Decimal | None, field: str) -> int | None:
        if value is None:
            return None
        try:
            return parse_amount(value, self.currency)
        except MoneyError:  # more decimals than the currency has (the field caps the size)
            self.add_error(field, too_many_decimals(self.currency))
            return None

    def filters(self) -> InvoiceFilters:
        """The valid part of the filters; an invalid field is shown with its error and ignored.
        An aging bucket lists what it counted as of its day, with what each invoice owed
        then; a bucket with a day to come lists nothing (its error says why)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        ok = {k: v for k, v in data.items() if k not in self.errors}
        bucket = ok.get("bucket") or ""
        refused_day = "as_of" in self.errors
        aging = bucket if bucket in BUCKET_KEYS and not refused_day else ""
        return InvoiceFilters(
            statuses=(ok["status"],) if ok.get("status") else (),
            issued_from=ok.get("issued_from"),
            issued_to=ok.get("issued_to"),
            due_from=ok.get("due_from"),
            due_to=ok.get("due_to"),
            amount_min_minor=self._minor(ok.get("amount_min"), "amount_min"),
            amount_max_minor=self._minor(ok.get("amount_max"), "amount_max"),
            search=ok.get("q") or "",
            aging=aging,
            as_of=(ok.get("as_of") or self.today) if aging else None,
            nothing=bool(bucket) and refused_day,
        )

    @property
    def sort_key(self) -> str:
        value = self.cleaned_data.get("sort") if hasattr(self, "cleaned_data") else None
        return value if value in SORTS else "issue_date"

    @property
    def is_descending(self) -> bool:
        value = self.cleaned_data.get("dir") if hasattr(self, "cleaned_data") else None
        return value != "asc"

    @property
    def bucket_phrase(self) -> str | None:
        """The aging bucket the table is narrowed to, in words ("over 90 days past due")."""
        key = self.cleaned_data.get("bucket") if hasattr(self, "cleaned_data") else None
        label = next((label for k, label, _, _ in AGING_BUCKETS if k == key), None)
        if label is None:
            return None
        return "not yet due" if key == "current" else f"{label[0].lower()}{label[1:]} past due"

    @property
    def active_filters(self) -> int:
        """How many of the visible filters are set (refused ones too: their errors show)."""
        names = (f.name for f in self.visible_fields() if f.name not in ("sort", "dir"))
        return sum(1 for name in names if str(self.data.get(name) or "").strip())

    @property
    def active_card(self) -> str | None:
        """The stat card whose invoices the table lists: its status is the one filter set
        (sort and order aside), e.g. `?status=overdue&sort=due_date&dir=asc`."""
        status = self.cleaned_data.get("status") if hasattr(self, "cleaned_data") else None
        if status not in CARD_STATUSES or self.active_filters != 1 or self.data.get("bucket"):
            return None
        return status

    @property
    def as_of_date(self) -> date | None:
        return self.cleaned_data.get("as_of") if hasattr(self, "cleaned_data") else None


class DisputeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10_000,
        label="What is wrong with this invoice?",
        error_messages={"required": "Tell us what is wrong with this invoice."},
    )
    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_value=AMOUNT_LIMIT,
        label="Amount you dispute",
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
        error_messages=AMOUNT_ERRORS,
    )
    lines = forms.TypedMultipleChoiceField(
        required=False,
        coerce=int,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        label="Lines you dispute (optional)",
    )
    attachments = AttachmentsField()

    def __init__(
        self, *args: object, line_choices: list[tuple[int, str]] | None = None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["lines"].choices = line_choices or []  # type: ignore[attr-defined]


class MessageForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=10_000, label="Your message"
    )
    attachments = AttachmentsField()


class WithdrawForm(forms.Form):
    why = forms.CharField(
        required=False, max_length=2000, label="Why (optional)", widget=forms.Textarea
    )


class PaymentFilterForm(forms.Form):
    """The payments page's date range; an invalid date is shown with its error and ignored."""

    default_renderer = _JINJA2_WIDGETS

    received_from = forms.DateField(
        required=False, label="Received from", widget=forms.DateInput(attrs={"type": "date"})
    )
    received_to = forms.DateField(
        required=False, label="Received to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict:
        return _ranges_in_order(self, super().clean() or {}, [("received_from", "received_to")])

    def valid(self, name: str) -> date | None:
        if not self.is_bound or not self.is_valid() and name in self.errors:
            return None
        return self.cleaned_data.get(name)


class BillingContactForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name")
    email = forms.EmailField(label="Email")


def show_refusal(form: forms.Form, error: Exception) -> None:
    """A service's refusal on the form: each problem next to its field, or above the form."""
    if isinstance(error, DomainError) and error.problems:
        for problem in error.problems:
            field = problem.field if problem.field in form.fields else None
            # The services speak of a field ("must be at most $40.00"); a form says it whole.
            message = problem.message[:1].upper() + problem.message[1:]
            form.add_error(field, message if message.endswith(".") else f"{message}.")
    else:
        form.add_error(None, error.message if isinstance(error, DomainError) else str(error))


# -- What the client tells the 3PL about money: one flow for both forms. -----------------
# Each form carries a one-time key drawn when it was drawn; the notice claims it, so a
# double submit records one (payments.services).


class NoticeForm(forms.Form):
    key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: object, currency: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.client_currency = currency

    def _minor(self, field: str, currency: str | None = None) -> int | None:
        value = self.cleaned_data.get(field)
        if value is None:
            return None
        currency = currency or self.client_currency
        try:
            return parse_amount(value, currency)
        except MoneyError:
            self.add_error(field, too_many_decimals(currency))
            return None

    def problem_field(self, field: str | None, row: int | None) -> str | None:
        """The form's field a service's problem is about."""
        return field if field in self.fields else None


class CreditRequestForm(NoticeForm):
    """An amount of credit for each open invoice the client wants it applied to."""

    def __init__(self, *args: object, invoices: list, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.open_invoices = invoices
        for inv in invoices:
            self.fields[f"amount_{inv.id}"] = forms.DecimalField(
                required=False,
                min_value=Decimal(0),
                max_value=AMOUNT_LIMIT,
                error_messages=FILTER_AMOUNT_ERRORS,
                label=f"Apply to {inv.number}",
                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
            )

    def clean(self) -> dict:
        data = super().clean() or {}
        lines = []
        for inv in self.open_invoices:
            minor = self._minor(f"amount_{inv.id}")
            if minor:
                lines.append((inv.id, minor))
        data["lines"] = lines
        return data

    def problem_field(self, field: str | None, row: int | None) -> str | None:
        lines = self.cleaned_data.get("lines") or []
        if field == "lines" and row is not None and row < len(lines):
            return f"amount_{lines[row][0]}"
        return None


CURRENCIES = ("USD", "EUR", "GBP", "CAD", "JPY", "AUD", "CHF")


class RemittanceForm(NoticeForm):
    """'I've paid': what, in which currency, when, how, and (optionally) for which of the
    open invoices."""

    amount = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=AMOUNT_LIMIT,
        label="Amount paid",
        error_messages={**AMOUNT_ERRORS, "required": "Enter the amount you paid."},
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    currency = forms.ChoiceField(label="Currency", choices=[])
    paid_on = forms.DateField(
        label="Paid on",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={
            "required": "Enter the day you paid.",
            "invalid": "Enter the date as YYYY-MM-DD.",
        },
    )
    method = forms.ChoiceField(
        label="How you paid",
        choices=[("", "Choose…"), *METHOD_LABELS.items()],
        error_messages={"required": "Choose how you paid."},
    )
    reference = forms.CharField(
        required=False,
        max_length=200,
        label="Payment reference (optional)",
        help_text="As on your bank's confirmation: it helps us find the money.",
    )
    invoices = forms.TypedMultipleChoiceField(
        required=False,
        coerce=int,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
        label="Invoices this pays (optional)",
    )

    def __init__(self, *args: object, invoices: list, today: date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.today = today
        self.fields["currency"].choices = [  # type: ignore[attr-defined]
            (c, c) for c in dict.fromkeys([self.client_currency, *CURRENCIES])
        ]
        self.fields["invoices"].choices = [  # type: ignore[attr-defined]
            (inv.id, inv.number) for inv in invoices
        ]
        self.open_invoices = invoices

    def clean_paid_on(self) -> date:
        paid_on: date = self.cleaned_data["paid_on"]
        if paid_on > self.today:
            raise forms.ValidationError("Enter today or an earlier day: the day you paid.")
        return paid_on

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("currency"):
            data["amount_minor"] = self._minor("amount", data["currency"])
        return data


class StatementForm(forms.Form):
    """The statement's range of days: both ends, in order, within a year, none to come."""

    default_renderer = _JINJA2_WIDGETS

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: object, today: date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.today = today
        for field in self.fields.values():
            field.error_messages["required"] = "Enter a date."
            field.error_messages["invalid"] = "Enter the date as YYYY-MM-DD."

    @staticmethod
    def default_range(today: date) -> tuple[date, date]:
        """The start of the month two months back, to today: this quarter's story."""
        month = today.month - 2
        year = today.year + (month - 1) // 12
        return date(year, (month - 1) % 12 + 1, 1), today

    def clean(self) -> dict:
        data = _ranges_in_order(self, super().clean() or {}, [("start", "end")])
        start, end = data.get("start"), data.get("end")
        if end is not None and end > self.today and "end" not in self.errors:
            self.add_error("end", f"“To” must not be after today, {day(self.today)}.")
        if (
            start is not None
            and end is not None
            and not self.errors
            and (end - start).days >= MAX_STATEMENT_DAYS
        ):
            self.add_error(
                "end",
                f"A statement covers at most {MAX_STATEMENT_DAYS} days: "
                "choose a later “From” or an earlier “To”.",
            )
        return data
