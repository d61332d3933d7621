"""The overview's one form: the day the aging stands at (the portal's aging asks alike)."""

from tally.payments.forms import AgingDayForm as AsOfForm

__all__ = ["AsOfForm"]
