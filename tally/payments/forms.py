"""The day an aging stands at, as both the portal and the console ask for it."""

from datetime import date

from django import forms

from .aging import future_day_problem


def not_a_day_to_come(as_of: date | None, today: date) -> date | None:
    """A form's clean step for an as-of day: nothing is known of a day to come."""
    problem = future_day_problem(as_of, today) if as_of is not None else None
    if problem:
        raise forms.ValidationError(problem)
    return as_of


class AgingDayForm(forms.Form):
    """A GET form: today when empty; a day to come is refused (`aging.future_day_problem`)."""

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
        return not_a_day_to_come(self.cleaned_data.get("as_of"), self.today)

    @property
    def day(self) -> date:
        """The day asked for when it is valid, else today."""
        if self.is_bound and self.is_valid():
            return self.cleaned_data.get("as_of") or self.today
        return self.today
