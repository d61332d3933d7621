"""Sending due reminders: by real email, at most once per step, with every attempt recorded.

The invoices here are issued 1 Nov 2026 on 30-day terms, so due 1 Dec 2026, with the
standard steps on 28 Nov, 1 Dec, 8 Dec, 15 Dec and 31 Dec.
"""

import email
import email.policy
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tally.audit.models import AuditEvent
from tally.audit.queries import verify_chain
from tally.clients.models import BillingContact
from tally.disputes.models import Dispute
from tally.invoicing.models import Invoice
from tally.reminders import services as reminder_services
from tally.reminders.models import Reminder, ReminderAttempt
from tally.reminders.services import send_due_reminders
from tests.clock import install
from tests.factories import issued_invoice, make_client, pay, voided_invoice
from tests.reminders.conftest import free_port

pytestmark = pytest.mark.django_db

NOV_28, DEC_1, DEC_8, DEC_9 = (
    date(2026, 11, 28),
    date(2026, 12, 1),
    date(2026, 12, 8),
    date(2026, 12, 9),
)


def steps(invoice):
    return list(
        Reminder.objects.filter(invoice=invoice)
        .order_by("offset_days")
        .values_list("offset_days", "status", "status_detail")
    )


def open_dispute_row(invoice, user):
    # tally.disputes.services is being written alongside; a row is all the sender looks at.
    return Dispute.objects.create(
        client_id=invoice.client_id, invoice=invoice, reason="Pick count looks high", opened_by=user
    )


def resolve_dispute_row(dispute):
    Dispute.objects.filter(pk=dispute.pk).update(
        status="resolved",
        resolution="upheld",
        resolution_summary="The counts match the WMS export.",
        resolved_at=timezone.now(),
    )


def audit_actions(reminder):
    return list(
        AuditEvent.objects.filter(object_type="reminders.reminder", object_id=str(reminder.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_a_due_step_is_emailed_to_the_billing_contacts_with_amount_due_date_and_how_to_pay(
    acme, globex, mailoutbox, settings
):
    settings.TALLY_OPERATOR_NAME = "Harbor 3PL"
    settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY = {
        "USD": "Wire to Harbor Bank 12-34-56, account 998877"
    }
    BillingContact.objects.create(client=acme, name="Controller", email="controller@acme.example")
    invoice = issued_invoice(acme, picks=100)  # 35.00
    issued_invoice(globex, issue_date=date(2026, 11, 5))  # its first step is 2 Dec

    report = send_due_reminders(today=NOV_28)

    assert (report.sent, report.skipped, report.failed, report.needs_review) == (1, 0, 0, 0)
    assert len(mailoutbox) == 1
    msg = mailoutbox[0]
    assert msg.to == ["ap@acme.example", "controller@acme.example"]
    assert msg.subject == (
        f"Harbor 3PL: invoice {invoice.display_number} for $35.00 is due in 3 days (Dec 1, 2026)"
    )
    assert "Amount due:  $35.00" in msg.body
    assert "Due date:    Dec 1, 2026 (due in 3 days)" in msg.body
    assert "Wire to Harbor Bank 12-34-56, account 998877" in msg.body
    assert msg.from_email == settings.DEFAULT_FROM_EMAIL

    step = Reminder.objects.get(invoice=invoice, offset_days=-3)
    assert step.status == "sent" and step.sent_at is not None and step.claimed_at is not None
    assert [s[1] for s in steps(invoice)] == [
        "sent",
        "scheduled",
        "scheduled",
        "scheduled",
        "scheduled",
    ]
    attempt = ReminderAttempt.objects.get(reminder=step)
    assert (attempt.outcome, attempt.recipients, attempt.error) == (
        "sent",
        ["ap@acme.example", "controller@acme.example"],
        "",
    )
    assert audit_actions(step) == ["reminder.claimed", "reminder.sent"]
    assert verify_chain().ok


def test_an_overdue_reminder_asks_for_the_balance_still_owed_and_counts_the_days(acme, mailoutbox):
    invoice = issued_invoice(acme, picks=100)  # 35.00
    pay(acme, 1000, received_on=date(2026, 11, 20))
    send_due_reminders(today=NOV_28)
    send_due_reminders(today=DEC_1)
    send_due_reminders(today=DEC_8)

    assert [m.subject.split(" for ", 1)[1] for m in mailoutbox] == [
        "$25.00 is due in 3 days (Dec 1, 2026)",
        "$25.00 is due today (Dec 1, 2026)",
        "$25.00 is 7 days overdue (was due Dec 1, 2026)",
    ]
    assert all(invoice.display_number in m.subject for m in mailoutbox)
    assert [s[1] for s in steps(invoice)] == ["sent", "sent", "sent", "scheduled", "scheduled"]


def test_the_command_run_twice_sends_each_step_once_and_prints_a_summary(acme, mailoutbox, capsys):
    invoice = issued_invoice(acme)
    call_command("send_reminders", "--today", "2026-11-28")
    call_command("send_reminders", "--today", "2026-11-28")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "reminders: 1 sent, 0 skipped, 0 failed, 0 need review, 0 paused while disputed",
        "reminders: 0 sent, 0 skipped, 0 failed, 0 need review, 0 paused while disputed",
    ]
    assert len(mailoutbox) == 1
    assert ReminderAttempt.objects.filter(reminder__invoice=invoice).count() == 1
    with pytest.raises(CommandError, match="expected YYYY-MM-DD"):
        call_command("send_reminders", "--today", "28/11/2026")


def test_paid_and_voided_invoices_get_no_reminders(acme, mailoutbox):
    paid = issued_invoice(acme, picks=10)
    voided = voided_invoice(
        acme, picks=10, period=(date(2026, 9, 1), date(2026, 9, 30)), reason="Wrong period"
    )
    pay(acme, 350, invoice=paid, method="wire")

    report = send_due_reminders(today=DEC_8)

    assert mailoutbox == []
    assert report.sent == 0
    assert {s[1:] for s in steps(paid)} == {("skipped", "invoice paid")}
    assert {s[1:] for s in steps(voided)} == {("skipped", "invoice voided")}


def test_the_sender_skips_a_step_left_scheduled_on_an_invoice_that_is_already_paid(
    acme, mailoutbox
):
    """Belt and braces: the sender checks the invoice itself, not only the payment path."""
    invoice = issued_invoice(acme)
    Invoice.objects.filter(pk=invoice.pk).update(status="paid")  # steps still `scheduled`

    report = send_due_reminders(today=NOV_28)

    assert mailoutbox == [] and report.skipped == 1
    step = Reminder.objects.get(invoice=invoice, offset_days=-3)
    assert (step.status, step.status_detail) == ("skipped", "invoice paid")
    assert not ReminderAttempt.objects.filter(reminder=step).exists()
    assert audit_actions(step) == ["reminder.skipped"]
    assert Reminder.objects.filter(invoice=invoice, status="scheduled").count() == 4


def test_reminders_pause_while_a_dispute_is_open_and_resume_with_only_the_latest_step(
    acme, globex, mailoutbox
):
    from tests.factories import make_user

    disputed = issued_invoice(acme)
    other = issued_invoice(globex)
    dispute = open_dispute_row(disputed, make_user("client_user", client=acme))

    report = send_due_reminders(today=DEC_8)

    # The undisputed invoice gets its one latest step; the disputed one gets nothing.
    assert [m.to for m in mailoutbox] == [["ap@globex.example"]]
    assert report.paused == 3
    assert [s[1] for s in steps(disputed)] == ["scheduled"] * 5
    assert not Reminder.objects.filter(invoice=disputed).exclude(claimed_at=None).exists()
    assert not AuditEvent.objects.filter(
        object_type="reminders.reminder",
        object_id__in=[
            str(pk) for pk in Reminder.objects.filter(invoice=disputed).values_list("pk", flat=True)
        ],
    ).exists()
    assert [s[1] for s in steps(other)][:3] == ["skipped", "skipped", "sent"]

    resolve_dispute_row(dispute)
    mailoutbox.clear()
    report = send_due_reminders(today=DEC_9)

    assert (report.sent, report.skipped, report.paused) == (1, 2, 0)
    assert len(mailoutbox) == 1
    assert "is 8 days overdue" in mailoutbox[0].subject
    assert steps(disputed) == [
        (-3, "skipped", "superseded by a later reminder"),
        (0, "skipped", "superseded by a later reminder"),
        (7, "sent", ""),
        (14, "scheduled", ""),
        (30, "scheduled", ""),
    ]
    # Superseded steps were never tried; the one sent has its attempt.
    assert list(
        ReminderAttempt.objects.filter(reminder__invoice=disputed).values_list(
            "reminder__offset_days", "outcome"
        )
    ) == [(7, "sent")]


def test_a_client_without_billing_contacts_is_a_visible_failure(acme, mailoutbox):
    invoice = issued_invoice(acme)
    BillingContact.objects.filter(client=acme).delete()

    report = send_due_reminders(today=NOV_28)

    assert mailoutbox == [] and report.failed == 1
    step = Reminder.objects.get(invoice=invoice, offset_days=-3)
    assert (step.status, step.status_detail, step.sent_at) == ("failed", "no billing contact", None)
    attempt = ReminderAttempt.objects.get(reminder=step)
    assert (attempt.outcome, attempt.recipients, attempt.error) == (
        "failed",
        [],
        "no billing contact",
    )
    assert audit_actions(step) == ["reminder.claimed", "reminder.failed"]


def test_a_step_left_sending_by_a_crashed_run_goes_to_review_and_is_never_resent(acme, mailoutbox):
    invoice = issued_invoice(acme)
    crashed = Reminder.objects.get(invoice=invoice, offset_days=-3)
    in_flight = Reminder.objects.get(invoice=invoice, offset_days=0)
    Reminder.objects.filter(pk=crashed.pk).update(
        status="sending", claimed_at=timezone.now() - timedelta(hours=2)
    )
    # Another run claimed this one ten minutes ago and may still be talking to the server.
    Reminder.objects.filter(pk=in_flight.pk).update(
        status="sending", claimed_at=timezone.now() - timedelta(minutes=10)
    )

    report = send_due_reminders(today=DEC_1)
    report_again = send_due_reminders(today=DEC_1)

    assert mailoutbox == []
    assert (report.needs_review, report.sent, report_again.needs_review) == (1, 0, 0)
    crashed.refresh_from_db()
    in_flight.refresh_from_db()
    assert crashed.status == "needs_review"
    assert "may or may not have gone out" in crashed.status_detail
    assert in_flight.status == "sending"
    attempt = ReminderAttempt.objects.get(reminder=crashed)
    assert attempt.outcome == "needs_review" and "never finished" in attempt.error
    assert audit_actions(crashed) == ["reminder.needs_review"]

    # A shorter threshold catches the younger one too; still nothing is sent.
    report = send_due_reminders(today=DEC_1, stale_after=timedelta(minutes=5))
    in_flight.refresh_from_db()
    assert (report.needs_review, in_flight.status, mailoutbox) == (1, "needs_review", [])


def test_due_means_today_in_the_clients_own_time_zone(monkeypatch, mailoutbox):
    tokyo = make_client("tokyo", time_zone="Asia/Tokyo")
    honolulu = make_client("honolulu", time_zone="Pacific/Honolulu")
    tokyo_invoice = issued_invoice(tokyo)
    honolulu_invoice = issued_invoice(honolulu)
    # 27 Nov 20:00 UTC is already 28 Nov 05:00 in Tokyo, still 27 Nov 10:00 in Honolulu.
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 27, 20, tzinfo=UTC))

    report = send_due_reminders()

    assert report.sent == 1
    assert [m.to for m in mailoutbox] == [["ap@tokyo.example"]]
    assert Reminder.objects.get(invoice=tokyo_invoice, offset_days=-3).status == "sent"
    assert Reminder.objects.get(invoice=honolulu_invoice, offset_days=-3).status == "scheduled"
    assert "due in 3 days" in mailoutbox[0].subject


# --- through a real mail server -------------------------------------------------------


def test_a_reminder_goes_through_a_real_smtp_server(acme, smtp_server):
    invoice = issued_invoice(acme, picks=100)

    report = send_due_reminders(today=DEC_1)

    assert report.sent == 1
    # The 28 Nov step is due as well; only the latest (due today) is sent.
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received.rcpt_tos == ["ap@acme.example"]
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert parsed["Subject"] == (
        f"Northwind Logistics: invoice {invoice.display_number} for $35.00 is due today "
        "(Dec 1, 2026)"
    )
    assert parsed["To"] == "ap@acme.example"
    assert "Routing 021000021" in parsed.get_content()
    assert steps(invoice)[:2] == [
        (-3, "skipped", "superseded by a later reminder"),
        (0, "sent", ""),
    ]


def test_a_refusal_from_the_mail_server_is_recorded_as_a_failure(acme, smtp_server):
    smtp_server.refuse_with = "554 5.7.1 Message rejected: policy"
    invoice = issued_invoice(acme)

    report = send_due_reminders(today=NOV_28)

    assert report.failed == 1 and smtp_server.messages == []
    step = Reminder.objects.get(invoice=invoice, offset_days=-3)
    assert step.status == "failed"
    assert "SMTPDataError" in step.status_detail and "Message rejected" in step.status_detail
    attempt = ReminderAttempt.objects.get(reminder=step)
    assert attempt.recipients == ["ap@acme.example"] and "554" in attempt.error


@pytest.fixture
def clock(monkeypatch):
    """The sender's clock for retries, moved by hand."""
    return install(monkeypatch, reminder_services)


def test_an_unreachable_mail_server_is_tried_again_later_and_each_step_sent_once(
    acme, globex, smtp_server, settings, clock
):
    """Nothing was handed over when the server could not be reached: retrying is safe."""
    live_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens here: connection refused
    acme_invoice = issued_invoice(acme)
    globex_invoice = issued_invoice(globex)

    report = send_due_reminders(today=NOV_28)
    too_soon = send_due_reminders(today=NOV_28)

    assert (report.retrying, report.failed, report.sent) == (2, 0, 0)
    assert (too_soon.retrying, too_soon.failed, too_soon.sent) == (0, 0, 0)
    assert "2 to retry (mail server unreachable)" in report.summary()
    for invoice in (acme_invoice, globex_invoice):
        step = Reminder.objects.get(invoice=invoice, offset_days=-3)
        assert step.status == "scheduled" and step.sent_at is None
        assert step.retry_after == clock.at + timedelta(minutes=15)
        assert "ConnectionRefusedError" in step.status_detail
        attempts = list(ReminderAttempt.objects.filter(reminder=step))
        assert [(a.outcome, a.recipients) for a in attempts] == [
            ("failed", [f"ap@{invoice.client.code}.example"])
        ]
        assert "Connection refused" in attempts[0].error

    settings.EMAIL_PORT = live_port
    clock.advance(minutes=16)
    later = send_due_reminders(today=NOV_28)

    assert (later.sent, later.retrying, later.failed) == (2, 0, 0)
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "ap@acme.example",
        "ap@globex.example",
    ]
    step = Reminder.objects.get(invoice=acme_invoice, offset_days=-3)
    assert step.status == "sent"
    assert audit_actions(step) == [
        "reminder.claimed",
        "reminder.retry_scheduled",
        "reminder.claimed",
        "reminder.sent",
    ]
    assert send_due_reminders(today=NOV_28).sent == 0


def test_a_mail_server_unreachable_on_every_try_fails_the_step_for_good(acme, dead_smtp, clock):
    invoice = issued_invoice(acme)
    reports = []
    for wait in (0, 15, 60, 240, 24 * 60):
        clock.advance(minutes=wait + 1)
        reports.append(send_due_reminders(today=NOV_28))

    assert [(r.retrying, r.failed) for r in reports] == [(1, 0), (1, 0), (1, 0), (0, 1), (0, 0)]
    step = Reminder.objects.get(invoice=invoice, offset_days=-3)
    assert step.status == "failed" and step.retry_after is None
    assert "unreachable on 4 tries" in step.status_detail
    assert ReminderAttempt.objects.filter(reminder=step).count() == 4
    assert audit_actions(step)[-2:] == ["reminder.claimed", "reminder.failed"]
