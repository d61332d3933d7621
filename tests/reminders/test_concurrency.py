"""Two sending runs at once, on real database connections: each step goes out at most once.

On PostgreSQL the runs claim with FOR UPDATE SKIP LOCKED; on SQLite every write
transaction begins IMMEDIATE, so claims are serialised by the database lock. The same
scenario runs on each.
"""

import threading
import time
from collections import Counter
from datetime import date

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection

from tally.audit.actors import SystemActor
from tally.audit.queries import verify_chain
from tally.reminders.models import Reminder, ReminderAttempt
from tally.reminders.services import send_due_reminders
from tests.concurrency import at_once
from tests.factories import issued_invoice, make_client

MONTHS = [
    (date(2026, 8, 1), date(2026, 8, 31)),
    (date(2026, 9, 1), date(2026, 9, 30)),
    (date(2026, 10, 1), date(2026, 10, 31)),
]


class SlowRecordingBackend(BaseEmailBackend):
    """Takes a while per message, so that two runs are sending at the same time."""

    sent: list[tuple[str, str]] = []  # (run, invoice number)
    lock = threading.Lock()

    def __init__(self, run: str, **kwargs):
        super().__init__(**kwargs)
        self.run = run

    def send_messages(self, email_messages):
        time.sleep(0.02)
        with self.lock:
            for m in email_messages:
                self.sent.append((self.run, m.extra_headers["X-Tally-Invoice"]))
        return len(email_messages)


@pytest.mark.postgres_only
def test_two_overlapping_runs_send_each_invoice_its_latest_step_exactly_once(tx_db):
    overlapping_runs()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the PostgreSQL variant runs there")
def test_two_overlapping_runs_on_sqlite_send_each_step_once(tx_db):
    overlapping_runs()


def overlapping_runs():
    invoices = []
    for n in range(10):
        client = make_client(f"race-{n}")
        for period in MONTHS:
            invoices.append(issued_invoice(client, picks=3, period=period))
    # On 8 Dec three steps of each of the 30 invoices are due (-3, 0, +7): 90 rows, 30 emails.
    assert Reminder.objects.filter(scheduled_for__lte=date(2026, 12, 8)).count() == 90
    SlowRecordingBackend.sent = []

    def run(name):
        return send_due_reminders(
            today=date(2026, 12, 8),
            # Small batches, so that the runs interleave and split invoices between them.
            batch_size=7,
            connection_factory=lambda: SlowRecordingBackend(name),
        )

    reports = dict(zip("ab", at_once(lambda: run("a"), lambda: run("b")), strict=True))
    assert not [r for r in reports.values() if isinstance(r, Exception)], reports
    sent_by_invoice = Counter(number for _, number in SlowRecordingBackend.sent)
    assert sent_by_invoice == Counter({inv.display_number: 1 for inv in invoices})
    # Both runs did part of the work: they really overlapped.
    assert {run for run, _ in SlowRecordingBackend.sent} == {"a", "b"}
    assert reports["a"].sent + reports["b"].sent == 30
    assert reports["a"].skipped + reports["b"].skipped == 60

    due = Reminder.objects.filter(scheduled_for__lte=date(2026, 12, 8))
    assert Counter(due.values_list("offset_days", "status")) == Counter(
        {(7, "sent"): 30, (-3, "skipped"): 30, (0, "skipped"): 30}
    )
    assert not due.filter(status="sending").exists()
    attempts = Counter(ReminderAttempt.objects.values_list("reminder_id", flat=True))
    assert len(attempts) == 30 and set(attempts.values()) == {1}
    assert verify_chain().ok

    # A third run finds nothing left to send.
    SlowRecordingBackend.sent = []
    again = send_due_reminders(
        today=date(2026, 12, 8), connection_factory=lambda: SlowRecordingBackend("c")
    )
    assert (again.sent, again.skipped, SlowRecordingBackend.sent) == (0, 0, [])


@pytest.mark.postgres_only
def test_a_credit_that_settles_an_invoice_while_its_reminder_is_being_claimed(tx_db, monkeypatch):
    """The sender holds the due step while it waits for the audit chain; the credit holds
    the chain while it skips the invoice's steps. Skipping passes over the claimed step
    instead of waiting for it (waiting deadlocked), and the sender, seeing the invoice
    paid, sends nothing."""
    from django.core import mail

    from tally.actions.invoices import create_credit_note
    from tally.reminders import services as reminders

    client = make_client("credit-during-claim")
    invoice = issued_invoice(client, picks=10)  # 3.50, due Dec 1
    claimed = threading.Event()
    days_for_clients = reminders._Days.for_clients

    def pause_inside_the_claim(self, ids):  # the due steps are locked by now
        claimed.set()
        time.sleep(1.5)
        return days_for_clients(self, ids)

    monkeypatch.setattr(reminders._Days, "for_clients", pause_inside_the_claim)
    mail.outbox = []
    outcome = {}

    def sender():
        try:
            outcome["sent"] = send_due_reminders(today=date(2026, 12, 1))
        except Exception as e:  # noqa: BLE001 - the outcome is what the test inspects
            outcome["sent"] = e
        finally:
            connection.close()

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        assert claimed.wait(30)
        create_credit_note(
            actor=SystemActor.TESTS,
            client=client,
            invoice_id=invoice.pk,
            amount_minor=350,
            reason="goodwill",
        )
    finally:
        thread.join(30)
    assert not isinstance(outcome["sent"], Exception), outcome
    invoice.refresh_from_db()
    assert invoice.status == "paid"
    assert mail.outbox == []
    statuses = Counter(Reminder.objects.filter(invoice=invoice).values_list("status", flat=True))
    assert statuses["sent"] == 0 and statuses["skipped"] == len(
        Reminder.objects.filter(invoice=invoice)
    )
    assert verify_chain().ok
