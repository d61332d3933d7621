"""Payments' forms: record money received with its allocation, correct where a payment
went, refund unapplied credit. Amounts are entered in major units of the client's currency."""

from decimal import Decimal
from typing import Any

from django import forms

from tally.money import MoneyError, exponent, format_money, parse_amount
from tally.payments.models import PaymentMethod

from .common import AMOUNT_LIMIT, KeyedForm

# The answer "this payment answers none of the client's waiting remittance advice".
NONE = "none"

AMOUNT_ERRORS = {
    "invalid": "Enter the amount as a number, like 120.50.",
    "max_value": "That amount is larger than any payment.",
}


def _amount_field(label: str, *, required: bool = True, minimum: str = "0.01") -> forms.Field:
    return forms.DecimalField(
        required=required,
        min_value=Decimal(minimum),
        max_value=AMOUNT_LIMIT,
        label=label,
        error_messages={
            **AMOUNT_ERRORS,
            "required": "Enter the amount.",
            "min_value": "Enter an amount above zero." if minimum != "0" else "Enter 0 or more.",
        },
    )


class MoneyForm(KeyedForm):
    """A keyed form whose amounts are in one currency."""

    currency_code: str = ""
    locale: str = "en_US"

    def minor(self, name: str, value: Decimal | None) -> int | None:
        """An amount in minor units, or None with the error next to its field."""
        if value is None:
            return None
        try:
            return parse_amount(value, self.currency_code)
        except MoneyError:
            places = exponent(self.currency_code)
            self.add_error(
                name,
                f"Enter the amount in {self.currency_code} with at most {places} decimals."
                if places
                else f"Enter the amount in whole {self.currency_code}.",
            )
            return None

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency_code, self.locale)


class _AdviceAnswers(forms.MultipleChoiceField):
    """Ids of remittance advice, or NONE. Not checked against what waits now: a form sent
    twice finds its advice answered by its own first submission (and answers as that
    did); advice answered meanwhile by someone else is refused by the service."""

    def valid_value(self, value: Any) -> bool:
        return value == NONE or (str(value).isdigit() and len(str(value)) < 19)


class RecordPaymentForm(MoneyForm):
    client = forms.TypedChoiceField(
        coerce=int, label="Client", error_messages={"required": "Choose the client who paid."}
    )
    amount = _amount_field("Amount received")
    currency = forms.CharField(
        max_length=3, label="Currency", error_messages={"required": "Enter the currency."}
    )
    received_on = forms.DateField(
        label="Date received",
        error_messages={
            "required": "Enter the date the money arrived.",
            "invalid": "Enter the date as YYYY-MM-DD.",
        },
    )
    method = forms.ChoiceField(
        choices=PaymentMethod.choices,
        label="Method",
        error_messages={"required": "Choose how it was paid."},
    )
    reference = forms.CharField(required=False, max_length=200, label="Reference")
    payer = forms.CharField(required=False, max_length=200, label="Payer")
    # The client's remittance advice this payment answers, when started from one.
    advice = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The client's waiting remittance advice this payment answers, ticked; or NONE.
    answers = _AdviceAnswers(required=False, label="Remittance advice this payment answers")

    def __init__(
        self,
        *args: Any,
        clients: list[tuple[int, str]],
        client_currency: str | None,
        invoices: list[Any],  # queries.payments.OpenInvoice, the chosen client's
        waiting_advice: list[Any] | None = None,  # queries.notices.NoticeRow, the client's
        locale: str = "en_US",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        client_field = self.fields["client"]
        assert isinstance(client_field, forms.TypedChoiceField)
        client_field.choices = [("", "Choose a client…"), *clients]
        self.client_currency = client_currency
        self.currency_code = client_currency or "USD"
        self.locale = locale
        self.invoices = invoices
        self.waiting_advice = waiting_advice or []
        for inv in invoices:
            self.fields[f"alloc_{inv.id}"] = _amount_field(
                f"Amount for {inv.number}", required=False, minimum="0"
            )

    def alloc_field(self, invoice_id: int) -> forms.BoundField:
        return self[f"alloc_{invoice_id}"]

    def clean(self) -> dict:
        data = super().clean() or {}
        currency = (data.get("currency") or "").strip().upper()
        data["currency"] = currency
        if currency and self.client_currency and currency != self.client_currency:
            self.add_error(
                "currency",
                f"This client pays in {self.client_currency}: record the payment in "
                f"{self.client_currency}.",
            )
        data["amount_minor"] = amount = self.minor("amount", data.get("amount"))
        allocations = []
        for inv in self.invoices:
            name = f"alloc_{inv.id}"
            minor = self.minor(name, data.get(name))
            if not minor:
                continue
            if minor > inv.balance_minor:
                self.add_error(
                    name, f"Must be at most {self.money(inv.balance_minor)}, what it still owes."
                )
            allocations.append((inv.id, minor))
        data["allocations"] = allocations
        data["advice_ids"] = self._answered(data)
        placed = sum(a for _, a in allocations)
        if amount is not None and placed > amount:
            self.add_error(
                None,
                f"The allocations add up to {self.money(placed)}, more than the "
                f"{self.money(amount)} received.",
            )
        return data

    def _answered(self, data: dict) -> list[int]:
        """The remittance advice this payment answers. While the client has advice
        waiting, the operator says which this payment answers, or that it answers none:
        advice is never left open unseen once its payment is in."""
        ticked = data.get("answers") or []
        chosen = sorted({int(a) for a in ticked if a != NONE})
        if NONE in ticked and chosen:
            self.add_error(
                "answers", "Tick the advice this payment answers, or “None of these”, not both."
            )
        if data.get("advice"):
            chosen = sorted({*chosen, data["advice"]})
        elif self.waiting_advice and not chosen and NONE not in ticked:
            count = len(self.waiting_advice)
            self.add_error(
                "answers",
                "This client has reported "
                + ("a payment" if count == 1 else f"{count} payments")
                + " not yet recorded (remittance advice, below): tick the one this payment "
                "answers, or “None of these” to leave "
                + ("it" if count == 1 else "them")
                + " waiting.",
            )
        return chosen


class CorrectAllocationForm(MoneyForm):
    """Take a payment back from invoices it was put on, and put it (or its unapplied
    credit) on others."""

    def __init__(
        self,
        *args: Any,
        currency: str,
        allocations: list[Any],  # queries.payments.AllocationRow
        invoices: list[Any],  # queries.payments.OpenInvoice
        locale: str = "en_US",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency_code = currency
        self.locale = locale
        self.allocations = allocations
        self.invoices = invoices
        for a in allocations:
            self.fields[f"back_{a.invoice_id}"] = _amount_field(
                f"Take back from {a.invoice_number}", required=False, minimum="0"
            )
        for inv in invoices:
            self.fields[f"on_{inv.id}"] = _amount_field(
                f"Put on {inv.number}", required=False, minimum="0"
            )

    def clean(self) -> dict:
        data = super().clean() or {}
        releases, allocations = [], []
        for a in self.allocations:
            name = f"back_{a.invoice_id}"
            minor = self.minor(name, data.get(name))
            if minor:
                if minor > a.amount_minor:
                    self.add_error(
                        name, f"Must be at most {self.money(a.amount_minor)}, what it put there."
                    )
                releases.append((a.invoice_id, minor))
        for inv in self.invoices:
            name = f"on_{inv.id}"
            minor = self.minor(name, data.get(name))
            if minor:
                if minor > inv.balance_minor:
                    self.add_error(
                        name,
                        f"Must be at most {self.money(inv.balance_minor)}, what it still owes.",
                    )
                allocations.append((inv.id, minor))
        if not releases and not allocations and not self.errors:
            self.add_error(None, "Enter an amount to take back or to put on an invoice.")
        data["releases"], data["allocations"] = releases, allocations
        return data


class RefundForm(MoneyForm):
    amount = _amount_field("Amount to refund")
    refunded_on = forms.DateField(
        label="Date refunded",
        error_messages={
            "required": "Enter the date the money went back.",
            "invalid": "Enter the date as YYYY-MM-DD.",
        },
    )
    method = forms.ChoiceField(
        choices=PaymentMethod.choices,
        label="Method",
        error_messages={"required": "Choose how it was refunded."},
    )
    reference = forms.CharField(required=False, max_length=200, label="Reference")

    def __init__(
        self, *args: Any, currency: str, unapplied_minor: int, locale: str = "en_US", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.currency_code = currency
        self.locale = locale
        self.unapplied_minor = unapplied_minor

    def clean(self) -> dict:
        data = super().clean() or {}
        minor = self.minor("amount", data.get("amount"))
        if minor is not None and minor > self.unapplied_minor:
            self.add_error(
                "amount",
                f"Must be at most {self.money(self.unapplied_minor)}, the unapplied credit.",
            )
        data["amount_minor"] = minor
        return data
