"""What every console form shares: its one-time key, and the limits on text and amounts."""

from decimal import Decimal

from django import forms

from tally.money import MAX_AMOUNT_DIGITS

AMOUNT_LIMIT = Decimal(10) ** MAX_AMOUNT_DIGITS - 1
MAX_TEXT = 10_000


class KeyedForm(forms.Form):
    key = forms.UUIDField(
        widget=forms.HiddenInput,
        error_messages={
            "required": "This form has expired. Reload the page and try again.",
            "invalid": "This form has expired. Reload the page and try again.",
        },
    )
