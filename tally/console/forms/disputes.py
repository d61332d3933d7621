"""The dispute desk's forms: a reply, an internal note, a resolution."""

from decimal import Decimal

from django import forms

from tally.disputes.forms import AttachmentsField
from tally.disputes.models import Resolution
from tally.money import MoneyError, exponent, format_money, parse_amount

from .common import AMOUNT_LIMIT, MAX_TEXT, KeyedForm


class TakeForm(KeyedForm):
    """Take a dispute: `from_owner` is the owner the page showed (empty: nobody)."""

    from_owner = forms.IntegerField(required=False, widget=forms.HiddenInput)


class GiveBackForm(KeyedForm):
    pass


class ReplyForm(KeyedForm):
    body = forms.CharField(
        max_length=MAX_TEXT,
        label="Reply to the client",
        error_messages={"required": "Write the reply the client will read."},
    )
    attachments = AttachmentsField()


class NoteForm(KeyedForm):
    body = forms.CharField(
        max_length=MAX_TEXT,
        label="New internal note",
        error_messages={"required": "Write the note."},
    )


class ResolveForm(KeyedForm):
    resolution = forms.ChoiceField(
        choices=Resolution.choices,
        widget=forms.RadioSelect,
        label="Outcome",
        error_messages={"required": "Choose how the dispute ends."},
    )
    credit_amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        max_value=AMOUNT_LIMIT,
        label="Credit amount",
        error_messages={
            "invalid": "Enter the amount as a number, like 120.50.",
            "min_value": "Enter an amount above zero.",
            "max_value": "That amount is larger than any invoice.",
        },
    )
    credit_reason = forms.CharField(
        required=False, max_length=MAX_TEXT, label="Credit note reason (optional)"
    )
    summary = forms.CharField(
        max_length=MAX_TEXT,
        label="Summary the client will see",
        error_messages={"required": "Write the summary the client will read."},
    )

    def __init__(
        self,
        *args: object,
        currency: str,
        creditable_minor: int,
        locale: str = "en_US",
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.currency = currency
        self.locale = locale
        self.creditable_minor = creditable_minor

    def clean(self) -> dict:
        data = super().clean() or {}
        amount = data.get("credit_amount")
        if data.get("resolution") != Resolution.CREDITED:
            # Only a credit has an amount; what was prefilled for it is not sent on.
            data["credit_amount_minor"] = None
            data["credit_reason"] = None
            return data
        if amount is None:
            if "credit_amount" not in self.errors:
                self.add_error("credit_amount", "Enter the amount to credit.")
            return data
        try:
            minor = parse_amount(amount, self.currency)
        except MoneyError:
            places = exponent(self.currency)
            self.add_error(
                "credit_amount",
                f"Enter the amount in {self.currency} with at most {places} decimals."
                if places
                else f"Enter the amount in whole {self.currency}.",
            )
            return data
        if minor > self.creditable_minor:
            limit = format_money(self.creditable_minor, self.currency, self.locale)
            self.add_error(
                "credit_amount",
                f"Must be at most {limit}, what the invoice billed less earlier credits.",
            )
        data["credit_amount_minor"] = minor
        data["credit_reason"] = (data.get("credit_reason") or "").strip() or None
        return data
