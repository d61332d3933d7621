"""The draft review's forms: an adjustment, its removal, issuing, deleting."""

from decimal import Decimal

from django import forms

from tally.money import MoneyError, exponent, parse_amount

from .common import AMOUNT_LIMIT, MAX_TEXT, KeyedForm


class AdjustmentForm(KeyedForm):
    description = forms.CharField(
        max_length=300,
        label="Description the client will see",
        error_messages={"required": "Describe the charge or discount, as the invoice will."},
    )
    amount = forms.DecimalField(
        min_value=-AMOUNT_LIMIT,
        max_value=AMOUNT_LIMIT,
        label="Amount (a discount below zero)",
        error_messages={
            "required": "Enter the amount: above zero for a charge, below for a discount.",
            "invalid": "Enter the amount as a number, like 120.50 or -40.",
            "min_value": "That discount is larger than any invoice.",
            "max_value": "That amount is larger than any invoice.",
        },
    )
    reason = forms.CharField(
        max_length=MAX_TEXT,
        label="Reason",
        error_messages={"required": "Say why: the reason stays with the line."},
    )

    def __init__(self, *args: object, currency: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.currency = currency

    def clean(self) -> dict:
        data = super().clean() or {}
        amount: Decimal | None = data.get("amount")
        if amount is None:
            return data
        if amount == 0:
            self.add_error("amount", "Enter an amount other than zero.")
            return data
        try:
            data["amount_minor"] = parse_amount(amount, self.currency)
        except MoneyError:
            places = exponent(self.currency)
            self.add_error(
                "amount",
                f"Enter the amount in {self.currency} with at most {places} decimals."
                if places
                else f"Enter the amount in whole {self.currency}.",
            )
        return data


class RemoveAdjustmentForm(KeyedForm):
    line = forms.IntegerField(widget=forms.HiddenInput)


class IssueForm(KeyedForm):
    pass


class IssueSeveralForm(KeyedForm):
    """The drafts ticked on the list: any ids; the service refuses, draft by draft, one
    that is gone or issued meanwhile."""

    def clean(self) -> dict:
        data = super().clean() or {}
        raw = self.data.getlist("drafts") if hasattr(self.data, "getlist") else []
        try:
            data["drafts"] = sorted({int(v) for v in raw})
        except ValueError:
            data["drafts"] = []
        if not data["drafts"]:
            self.add_error(None, "Select the drafts to issue.")
        return data


class DeleteDraftForm(KeyedForm):
    reason = forms.CharField(
        max_length=MAX_TEXT,
        label="Why delete it?",
        error_messages={"required": "Say why the draft is deleted: the reason is kept."},
    )
