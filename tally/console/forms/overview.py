"""The overview's one form: the day the aging stands at."""

from datetime import date

from django import forms

from tally.payments.aging import future_day_problem


class AsOfForm(forms.Form):
    """A GET form: today when empty; a day to come is refused (nothing is known of it)."""

    as_of = forms.DateField(
        required=False,
        label="As of",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter the date as YYYY-MM-DD."},
    )

    def __init__(self, data: object, *, today: date) -> None:
        super().__init__(data)  # type: ignore[arg-type]
        self.today = today

    def clean_as_of(self) -> date | None:
        as_of: date | None = self.cleaned_data.get("as_of")
        problem = future_day_problem(as_of, self.today) if as_of is not None else None
        if problem:
            raise forms.ValidationError(problem)
        return as_of

    @property
    def day(self) -> date:
        """The day asked for when it is valid, else today."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data.get("as_of") or self.today
        return self.today
