"""Reminders around a dispute, the whole loop on a moving wall clock: a step that comes due
while the dispute is open never goes out; once the charge is upheld the next step goes out
on its day; a credit that settles the invoice stops them all."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from tally.accounts.models import Role
from tally.actions.disputes import resolve_dispute
from tally.disputes.services import open_dispute
from tally.reminders.models import Reminder
from tally.reminders.services import CAME_DUE_WHILE_DISPUTED, send_due_reminders
from tests.factories import issued_invoice, make_user

pytestmark = pytest.mark.django_db


class WallClock:
    """`timezone.now` for every part of Tally: what the dispute, the audit trail and the
    sender read."""

    def __init__(self, monkeypatch) -> None:
        self.at = datetime(2026, 11, 29, 9, tzinfo=UTC)
        monkeypatch.setattr(timezone, "now", lambda: self.at)

    def day(self, month: int, day: int, hour: int = 9) -> None:
        self.at = datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    return WallClock(monkeypatch)


def steps(invoice):
    return list(
        Reminder.objects.filter(invoice=invoice)
        .order_by("offset_days")
        .values_list("offset_days", "status", "status_detail")
    )


def subjects(mailoutbox):
    return [m.subject for m in mailoutbox]


@pytest.fixture
def disputed(acme, clock, mailoutbox):
    """Acme's invoice due on 1 December (steps on 28 Nov, 1, 8, 15 and 31 Dec): the first
    reminder went out on 28 November; on the 29th the client disputes it."""
    invoice = issued_invoice(acme, picks=10)  # $3.50
    clock.day(11, 28)
    send_due_reminders()
    assert len(mailoutbox) == 1
    clock.day(11, 29)
    user = make_user(Role.CLIENT_USER, client=acme)
    dispute = open_dispute(actor=user, client=acme, invoice_id=invoice.pk, reason="Not our picks.")
    mailoutbox.clear()
    # While it is open, nothing goes out: not on the due date, not a week late.
    for day in (1, 2, 8, 9):
        clock.day(12, day)
        report = send_due_reminders()
        assert report.sent == 0
    assert report.paused == 2  # the steps of 1 and 8 December wait
    assert mailoutbox == []
    return invoice, dispute


def test_after_the_charge_is_upheld_the_next_step_goes_out_and_none_that_came_due_before(
    acme, operator, clock, disputed, mailoutbox
):
    invoice, dispute = disputed
    clock.day(12, 10)
    resolve_dispute(
        actor=operator,
        client=acme,
        dispute_id=dispute.pk,
        resolution="upheld",
        summary="The picks match the WMS export.",
    )
    send_due_reminders()
    assert mailoutbox == [], "the steps due during the dispute never go out"
    assert steps(invoice)[:3] == [
        (-3, "sent", ""),
        (0, "skipped", "superseded by a later reminder"),
        (7, "skipped", CAME_DUE_WHILE_DISPUTED),
    ]

    clock.day(12, 14)
    send_due_reminders()
    assert mailoutbox == []
    clock.day(12, 15)
    send_due_reminders()
    assert subjects(mailoutbox) == [
        f"Northwind Logistics: invoice {invoice.display_number} for $3.50 is 14 days overdue "
        "(was due Dec 1, 2026)"
    ]
    assert steps(invoice)[3:] == [(14, "sent", ""), (30, "scheduled", "")]


def test_after_a_credit_that_settles_the_invoice_nothing_goes_out(
    acme, operator, clock, disputed, mailoutbox
):
    invoice, dispute = disputed
    clock.day(12, 10)
    resolve_dispute(
        actor=operator,
        client=acme,
        dispute_id=dispute.pk,
        resolution="credited",
        summary="Credited in full.",
        credit_amount_minor=350,
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance_minor) == ("paid", 0)
    for day in (10, 15, 31):
        clock.day(12, day)
        send_due_reminders()
    assert mailoutbox == []
    assert [s[1] for s in steps(invoice)] == ["sent", "skipped", "skipped", "skipped", "skipped"]


def test_a_partial_credit_resumes_the_reminders_for_what_is_still_owed(
    acme, operator, clock, disputed, mailoutbox
):
    invoice, dispute = disputed
    clock.day(12, 10)
    resolve_dispute(
        actor=operator,
        client=acme,
        dispute_id=dispute.pk,
        resolution="credited",
        summary="Two picks credited.",
        credit_amount_minor=70,
    )
    clock.day(12, 15)
    send_due_reminders()
    [email] = mailoutbox
    assert "for $2.80 is 14 days overdue" in email.subject


def test_when_no_later_step_is_left_the_last_one_that_came_due_goes_out_after_resolution(
    acme, operator, clock, disputed, mailoutbox
):
    invoice, dispute = disputed
    for day in (15, 31):
        clock.day(12, day)
        send_due_reminders()
    assert mailoutbox == []
    clock.day(1, 5)
    clock.at = clock.at.replace(year=2027)
    resolve_dispute(
        actor=operator,
        client=acme,
        dispute_id=dispute.pk,
        resolution="upheld",
        summary="The picks match the WMS export.",
    )
    send_due_reminders()
    [email] = mailoutbox
    assert "is 35 days overdue" in email.subject
    assert [s[1] for s in steps(invoice)] == ["sent", "skipped", "skipped", "skipped", "sent"]
