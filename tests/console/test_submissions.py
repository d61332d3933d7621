"""The console's one-time form keys are kept a month, then purged: a resent form within
that month is still refused, and the table does not grow for ever."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from tally.console.models import FormSubmission
from tally.console.services.submissions import AlreadySubmitted, claim, purge_submissions
from tests.clock import ManualClock
from tests.factories import make_user


@pytest.mark.django_db
def test_keys_claimed_over_a_month_ago_are_purged_and_recent_ones_still_refuse_a_resend(
    monkeypatch,
):
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    operator = make_user()
    old, recent = uuid.uuid4(), uuid.uuid4()
    claim(operator, old)
    clock.advance(days=2)
    claim(operator, recent)
    clock.advance(days=28, seconds=1)  # `old` is 30 days and a second old, `recent` 28 days

    assert purge_submissions() == 1
    assert list(FormSubmission.objects.values_list("key", flat=True)) == [recent]
    with pytest.raises(AlreadySubmitted):
        claim(operator, recent)
    assert purge_submissions() == 0  # twice deletes nothing more


@pytest.mark.django_db
def test_the_purge_command_says_how_many_keys_it_forgot(monkeypatch):
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    operator = make_user()
    for _ in range(3):
        claim(operator, uuid.uuid4())
    clock.advance(days=31)
    claim(operator, uuid.uuid4())
    out = io.StringIO()

    call_command("purge_form_submissions", stdout=out)

    assert out.getvalue() == "purged 3 form key(s)\n"
    assert FormSubmission.objects.count() == 1
