"""A clock a test moves by hand, for modules that read the time through their own `now()`."""

from datetime import datetime, timedelta

from django.utils import timezone


class ManualClock:
    def __init__(self) -> None:
        self.at: datetime = timezone.now()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kwargs: float) -> None:
        self.at += timedelta(**kwargs)


def install(monkeypatch, module) -> ManualClock:
    """Replace `module.now` with a ManualClock for the test."""
    clock = ManualClock()
    monkeypatch.setattr(module, "now", clock)
    return clock
