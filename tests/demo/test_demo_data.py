from datetime import date

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client as HttpClient

from tally.accounts.models import Role, User
from tally.audit.queries import verify_chain
from tally.clients.models import Client
from tally.console.queries.disputes import Turn, dispute_desk
from tally.demo.builder import DEMO_PASSWORD, build
from tally.disputes.models import Dispute, DisputeMessage
from tally.internal_notes.models import InternalNote
from tally.invoicing.models import CreditNote, Invoice, InvoiceLine
from tally.operations.models import Event
from tally.payments.models import Payment
from tally.reminders.models import Reminder

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    """Build the demo once for the module, inside a transaction rolled back at the end."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build(today=TODAY)
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def test_the_demo_has_invoices_in_every_state(demo):
    invoices = Invoice.objects.all()
    assert Client.objects.count() >= 6
    assert {"draft", "open", "paid", "void"} <= set(invoices.values_list("status", flat=True))
    assert invoices.filter(status="open", due_date__lt=TODAY).exists(), "overdue"
    assert invoices.filter(status="open", allocated_minor__gt=0).exists(), "partially paid"
    assert Dispute.objects.filter(status="open").exists(), "disputed"
    assert Dispute.objects.filter(resolution="credited", credit_note__isnull=False).exists()
    assert CreditNote.objects.exists()
    assert InvoiceLine.objects.filter(line_type="adjustment").exists()


def test_the_operator_finds_disputes_waiting_for_an_answer_on_the_console(demo):
    desk = dispute_desk(TODAY)
    waiting = [row for row in desk.rows if row.turn == Turn.OPERATOR]
    assert len(waiting) >= 2
    assert {row.currency for row in waiting} >= {"USD", "EUR"}
    http = HttpClient()
    http.force_login(User.objects.get(email="ops@northwind.example"))
    page = http.get("/console/disputes/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme Outdoor Gear" in html and "Nordkap Sports GmbH" in html
    assert f"{len(waiting)} waiting for our answer" in html


def test_the_euro_client_has_an_invoice_to_pay_into_its_sepa_account(demo):
    from tally.invoicing.instructions import payment_instructions

    nordkap = Client.objects.get(currency="EUR")
    assert Invoice.objects.filter(client=nordkap, status="open").exists()
    assert "IBAN" in payment_instructions(nordkap.currency)
    assert "IBAN" not in payment_instructions("USD")


def test_every_currency_the_demo_bills_has_bank_details_of_its_own(demo):
    """A CAD and a JPY client were told to pay into the demo's US bank by ACH."""
    from tally.invoicing.instructions import bank_details

    currencies = set(Client.objects.values_list("currency", flat=True))
    assert {"USD", "EUR", "CAD", "JPY", "GBP"} <= currencies
    details = {currency: bank_details(currency) for currency in currencies}
    assert all(details.values()), details
    assert len(set(details.values())) == len(currencies)  # no two share an account


def test_the_demo_has_months_of_all_four_kinds_for_every_client(demo):
    for client in Client.objects.all():
        kinds = set(Event.objects.filter(client=client).values_list("kind", flat=True))
        assert {"pick", "label", "storage_day"} <= kinds
        months = {
            d.month for d in Event.objects.filter(client=client).dates("occurred_at", "month")
        }
        assert len(months) >= 6
    assert Event.objects.filter(kind="stop").exists()


def test_the_demo_has_payments_reminders_and_conversations(demo):
    assert Payment.objects.values("method").distinct().count() >= 4
    assert Payment.objects.filter(unapplied_minor__gt=0).exists()
    statuses = set(Reminder.objects.values_list("status", flat=True))
    assert {"sent", "scheduled", "skipped"} <= statuses
    assert DisputeMessage.objects.filter(author_side="client").exists()
    assert DisputeMessage.objects.filter(author_side="operator").exists()
    assert InternalNote.objects.exists()
    assert verify_chain().ok


def test_the_demo_logins_work_with_the_printed_password(demo):
    for client in Client.objects.all():
        user = User.objects.get(role=Role.CLIENT_USER, client=client)
        assert user.check_password(DEMO_PASSWORD)
    assert User.objects.get(role=Role.OPERATOR).check_password(DEMO_PASSWORD)
    assert User.objects.get(role=Role.PLATFORM_OWNER).check_password(DEMO_PASSWORD)
    emails = {email for _, email, _ in demo}
    assert emails == set(User.objects.values_list("email", flat=True))


def test_demo_data_if_empty_leaves_an_existing_database_alone(demo, capsys):
    before = Invoice.objects.count()
    call_command("demo_data", "--if-empty")
    assert Invoice.objects.count() == before
    out = capsys.readouterr().out
    assert "already has clients" in out and f"password for all: {DEMO_PASSWORD}" in out


def test_the_operator_has_drafts_of_the_current_month_to_review(demo):
    # Drafted on the 1st of this month, for last month: two still in review.
    drafts = Invoice.objects.filter(status="draft", period_start=date(2026, 10, 1))
    assert drafts.count() >= 2
    assert all(not d.number for d in drafts)


def test_the_operator_has_a_misapplied_payment_whose_reference_names_another_invoice(demo):
    from tally.payments.models import Allocation

    misapplied = []
    for payment in Payment.objects.filter(reference__startswith="REMITTANCE INV-"):
        named = payment.reference.removeprefix("REMITTANCE ")
        paid = {a.invoice.display_number for a in Allocation.objects.filter(payment=payment)}
        meant = Invoice.objects.get(client=payment.client, number=int(named.removeprefix("INV-")))
        if named not in paid and meant.status == "open":
            misapplied.append((payment, meant, paid))
    [(payment, meant, paid)] = misapplied
    assert paid and all(
        Invoice.objects.get(client=payment.client, number=int(n.removeprefix("INV-"))).client_id
        == payment.client_id
        for n in paid
    )


def test_the_operator_has_a_failed_reminder_with_the_mail_servers_answer(demo):
    [failed] = Reminder.objects.filter(status="failed")
    assert failed.client.code == "harbor-pet"
    assert "SMTPRecipientsRefused" in failed.status_detail
    assert "mailbox full" in failed.status_detail
    assert failed.attempts.get().outcome == "failed"


def test_the_demos_staged_bounce_is_not_printed_but_a_real_refusal_is():
    """`make run` printed the staged refusal's traceback, which read as a crash."""
    import logging
    import smtplib
    import sys

    from tally.demo.builder import HideStagedBounces, staged_bounce

    def record(error: Exception) -> logging.LogRecord:
        try:
            raise error
        except Exception:
            exc_info = sys.exc_info()
        return logging.LogRecord("x", logging.WARNING, "f", 1, "failed", None, exc_info)

    refused = {"ap@x.example": (552, b"mailbox full")}
    assert not HideStagedBounces().filter(record(staged_bounce("ap@x.example")))
    assert HideStagedBounces().filter(record(smtplib.SMTPRecipientsRefused(refused)))


def test_the_demos_reminders_were_sent_on_the_days_they_were_due(demo):
    """Every past step read "Sent Dec 2, 2026", the day the demo was built."""
    from zoneinfo import ZoneInfo

    sent = Reminder.objects.filter(status="sent").select_related("client")
    assert sent.count() >= 10
    by_invoice: dict[int, list[date]] = {}
    for r in sent:
        day = r.sent_at.astimezone(ZoneInfo(r.client.time_zone)).date()
        assert day == r.scheduled_for, (r.pk, r.sent_at, r.scheduled_for)
        by_invoice.setdefault(r.invoice_id, []).append(day)
    assert all(len(set(days)) == len(days) for days in by_invoice.values())
    assert len({d for days in by_invoice.values() for d in days}) >= 10
    assert max(r.sent_at for r in sent).date() <= TODAY


def test_the_demos_dispute_conversations_take_their_time_and_attach_nothing(demo):
    from django.utils import timezone

    disputes = Dispute.objects.all()
    assert disputes.count() >= 4
    for dispute in disputes:
        times = [dispute.opened_at] + list(
            DisputeMessage.objects.filter(dispute=dispute)
            .order_by("id")
            .values_list("created_at", flat=True)
        )
        assert times == sorted(times)
        assert dispute.invoice.issue_date < dispute.opened_at.date()
        assert times[-1] <= timezone.now()
        messages = times[1:]
        assert len(set(messages)) == len(messages)
        if len(messages) > 1:  # hours apart, not one instant
            gaps = [b - a for a, b in zip(messages, messages[1:], strict=False)]
            assert min(gaps).total_seconds() >= 3600, gaps
    texts = [
        *DisputeMessage.objects.values_list("body", flat=True),
        *Dispute.objects.values_list("reason", flat=True),
        *Dispute.objects.values_list("resolution_summary", flat=True),
        *InternalNote.objects.values_list("body", flat=True),
    ]
    assert texts and not [t for t in texts if "attach" in t.lower()]


def test_clients_have_told_the_3pl_about_money_and_the_console_counts_it(demo):
    """The notice queues were empty in the demo: an operator saw no credit request and no
    remittance advice, and no client saw "payment reported"."""
    from tally.console.queries.overview import work_queues
    from tally.payments.models import ClientNotice, NoticeKind, NoticeStatus

    waiting = ClientNotice.objects.filter(status=NoticeStatus.WAITING).select_related("client")
    [request] = waiting.filter(kind=NoticeKind.CREDIT_REQUEST)
    [advice] = waiting.filter(kind=NoticeKind.REMITTANCE)
    assert request.client.code == "maple-finch" and request.amount_minor > 0
    asked = list(request.invoices.order_by("invoice__number"))
    assert len(asked) == 2, "apply my credit to these two invoices"
    assert sum(a.amount_minor for a in asked) == request.amount_minor
    for a in asked:
        assert a.invoice.status == "open" and 0 < a.amount_minor <= a.invoice.balance_minor
    [named] = advice.invoices.all()
    contested = sum(d.amount_minor for d in named.invoice.disputes.filter(status="open"))
    assert advice.client != request.client
    assert advice.amount_minor == named.invoice.balance_minor - contested > 0
    assert advice.paid_on < TODAY and advice.reference and advice.method
    # Written as the clients' own users, on the days they would have sent them.
    assert request.created_by.client == request.client
    assert advice.created_by.client == advice.client
    assert request.created_at.date() == date(2026, 11, 24)
    assert advice.created_at.date() == TODAY

    queues = work_queues()
    assert (queues.credit_requests, queues.remittances) == (1, 1)
    ops = HttpClient()
    ops.force_login(User.objects.get(email="ops@northwind.example"))
    overview = ops.get("/console/").content.decode()
    for figure in ("credit_requests", "remittances"):
        card = overview[overview.index(f'data-figure="{figure}"') :]
        assert '<span class="card-value">1</span>' in card[: card.index("</a>")], figure
    client = HttpClient()
    client.force_login(User.objects.get(role=Role.CLIENT_USER, client=advice.client))
    invoice = client.get(f"/invoices/{named.invoice.display_number}/").content.decode()
    assert f'id="reported-{named.invoice.display_number}"' in invoice
    assert "Payment reported on" in invoice
