"""Answering what a client told the 3PL about money."""

from django import forms

from .common import MAX_TEXT, KeyedForm


class ApplyCreditForm(KeyedForm):
    pass


class DeclineForm(KeyedForm):
    reason = forms.CharField(
        max_length=MAX_TEXT,
        label="Why (the client reads this)",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Tell the client why."},
    )


class MatchAdviceForm(KeyedForm):
    """Close remittance advice as matched to a payment of the client recorded already."""

    payment = forms.TypedChoiceField(
        coerce=int,
        label="The payment it reported, recorded already",
        error_messages={
            "required": "Choose the payment this advice reported.",
            "invalid_choice": "Choose one of this client's payments.",
        },
    )

    def __init__(self, *args: object, payments: list[tuple[int, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["payment"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "Choose a payment…"), *payments]
