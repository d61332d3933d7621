"""The billing run's form: a month, and every client or those chosen."""

from datetime import date

from django import forms

from .common import KeyedForm


class BillingRunForm(KeyedForm):
    month = forms.CharField(
        label="Month",
        max_length=7,
        error_messages={"required": "Choose the month to bill."},
    )
    scope = forms.ChoiceField(
        choices=[("all", "Every client"), ("chosen", "Only the clients chosen below")],
        widget=forms.RadioSelect,
        label="Clients",
        initial="all",
        error_messages={"required": "Choose every client or some."},
    )
    clients = forms.TypedMultipleChoiceField(
        coerce=int,
        required=False,
        label="Clients to bill",
        error_messages={"invalid_choice": "A client chosen no longer exists; reload the page."},
    )

    def __init__(self, *args: object, client_choices: list[tuple[int, str]], **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        clients = self.fields["clients"]
        assert isinstance(clients, forms.TypedMultipleChoiceField)
        clients.choices = client_choices

    def clean_month(self) -> date:
        raw = self.cleaned_data["month"].strip()
        try:
            year, month = (int(part) for part in raw.split("-"))
            return date(year, month, 1)
        except ValueError:
            raise forms.ValidationError(
                "Enter the month as year and month, like 2026-11."
            ) from None

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("scope") == "chosen" and not data.get("clients"):
            self.add_error("clients", "Choose at least one client, or bill every client.")
        data["client_ids"] = None if data.get("scope") == "all" else data.get("clients")
        return data
