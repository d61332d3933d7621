"""An invoice issued from the console goes to the client's billing contacts by email,
through the worker: the PDF of that invoice attached, a link to it in the portal, in the
client's locale, retried when the mail server refuses, recorded, never sent twice."""

import json
import uuid
from unittest.mock import ANY

import pytest
from django.db import transaction
from django.test import Client as WebClient
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tally.accounts.models import Role
from tally.actions.invoices import void_invoice
from tally.audit.models import AuditAction, AuditEvent
from tally.console.queries.invoice_emails import invoice_emails
from tally.console.services import drafts as services
from tally.console.services.invoice_emails import send_invoice_again
from tally.invoicing.emails import deliver_invoice_email
from tally.invoicing.models import InvoiceEmail, InvoiceEmailAttempt, InvoiceEmailStatus
from tally.worker import tasks
from tests.clock import ManualClock
from tests.factories import draft_invoice, make_client, make_user
from tests.portal.test_pdf import pdf_text
from tests.worker.conftest import run_worker

REFUSING = "tests.worker.failing_mail.RefusingBackend"


def email_tasks() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=tasks.send_invoice_email.module_path).order_by(
            "enqueued_at"
        )
    )


def issue(client, picks: int = 100):
    """A draft of `picks` picks (0.35 each), issued from the console by an operator."""
    draft = draft_invoice(client, picks=picks)
    return services.issue_draft(
        actor=make_user(Role.OPERATOR), invoice_id=draft.pk, key=uuid.uuid4()
    )


def test_an_issued_invoice_is_emailed_with_its_pdf_and_a_link_that_opens_it(
    tx_db, mailoutbox, settings
):
    settings.TALLY_BASE_URL = "https://billing.northwind.example"
    acme = make_client("acme")
    invoice = issue(acme)  # 35.00
    number = invoice.display_number
    assert mailoutbox == []  # the worker sends it, not the request

    run_worker()

    [message] = mailoutbox
    assert message.to == ["ap@acme.example"]
    assert message.subject == (
        f"Northwind Logistics: invoice {number} for $35.00, due Dec 25, 2026"
    )
    assert "  Total:       $35.00\n" in message.body
    assert "  Due date:    Dec 25, 2026\n" in message.body
    assert "The invoice is attached as a PDF." in message.body
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"{number}.pdf", "application/pdf")
    _, _, text = pdf_text(content)
    assert number in text and "Acme Inc." in text and "Total $35.00" in text
    link = f"https://billing.northwind.example/invoices/{number}/"
    assert f"\n  {link}\n" in message.body
    web = WebClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=acme))
    page = web.get(link.removeprefix(settings.TALLY_BASE_URL))
    assert page.status_code == 200 and number in page.content.decode()
    # Recorded: the email, its try, and the audit trail.
    email = InvoiceEmail.objects.get(invoice=invoice)
    assert (email.status, email.recipients, email.reason) == ("sent", ["ap@acme.example"], "issued")
    [attempt] = email.attempts.all()
    assert (attempt.attempt, attempt.outcome) == (1, "sent")
    actions = list(
        AuditEvent.objects.filter(action__startswith="invoice_email.").values_list(
            "action", flat=True
        )
    )
    assert actions == [AuditAction.INVOICE_EMAIL_REQUESTED, AuditAction.INVOICE_EMAIL_SENT]


@pytest.mark.django_db
def test_an_issue_that_rolls_back_asks_for_no_email():
    acme = make_client("acme")
    draft = draft_invoice(acme, picks=3)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.issue_draft(actor=make_user(), invoice_id=draft.pk, key=uuid.uuid4())
        assert len(email_tasks()) == 1  # written in the issue's transaction…
        raise RuntimeError("the request fails after the issue")
    assert email_tasks() == [] and not InvoiceEmail.objects.exists()  # …and gone with it


@pytest.mark.django_db
def test_a_refused_issue_asks_for_no_email():
    acme = make_client("acme")
    draft = draft_invoice(acme, picks=3)
    operator = make_user()
    services.issue_draft(actor=operator, invoice_id=draft.pk, key=uuid.uuid4())
    with pytest.raises(Exception):  # noqa: B017, PT011 - issued already
        services.issue_draft(actor=operator, invoice_id=draft.pk, key=uuid.uuid4())
    assert len(email_tasks()) == 1


def test_the_email_is_written_in_the_clients_locale(tx_db, mailoutbox):
    berlin = make_client("berlin", currency="EUR", locale="de_DE")
    invoice = issue(berlin)

    run_worker()

    [message] = mailoutbox
    number = invoice.display_number
    assert message.subject == (
        f"Northwind Logistics: invoice {number} for 35,00\xa0€, due 25.12.2026"
    )
    assert "  Issued:      25.11.2026\n" in message.body  # today, the tests' calendar
    assert "  Total:       35,00\xa0€\n" in message.body
    assert "services of\n01.10.2026 to 31.10.2026." in message.body
    _, _, text = pdf_text(message.attachments[0][1])
    assert "35,00 €" in text


def test_a_refusing_mail_server_is_tried_again_and_the_email_goes_once(
    tx_db, mailoutbox, settings, monkeypatch
):
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    invoice = issue(make_client("acme"))
    settings.EMAIL_BACKEND = REFUSING

    run_worker()  # try 1: refused; the next try 30 s later

    [task] = email_tasks()
    assert (task.status, len(task.worker_ids)) == (TaskResultStatus.READY, 1)
    email = InvoiceEmail.objects.get(invoice=invoice)
    assert email.status == InvoiceEmailStatus.QUEUED
    [failed] = email.attempts.all()
    assert failed.outcome == "failed" and "SMTPServerDisconnected" in failed.error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock.advance(seconds=30)
    run_worker()  # try 2: sent

    assert len(mailoutbox) == 1
    email.refresh_from_db()
    assert email.status == InvoiceEmailStatus.SENT
    assert [(a.attempt, a.outcome) for a in email.attempts.all()] == [(1, "failed"), (2, "sent")]

    # The task run again (a worker died after sending, say) sends nothing more.
    again = tasks.send_invoice_email.enqueue(email.pk)
    run_worker()
    assert DBTaskResult.objects.get(pk=again.id).return_value == {
        "email": email.pk,
        "sent": 0,
        "status": "sent",
    }
    assert len(mailoutbox) == 1
    assert AuditEvent.objects.filter(action=AuditAction.INVOICE_EMAIL_SENT).count() == 1


def test_when_every_try_is_refused_the_email_is_failed_for_the_console(
    tx_db, mailoutbox, settings, monkeypatch
):
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    settings.EMAIL_BACKEND = REFUSING
    invoice = issue(make_client("acme"))
    for _ in range(5):
        run_worker()
        clock.advance(hours=1)

    [task] = email_tasks()
    assert task.status == TaskResultStatus.SUCCESSFUL  # it gave up itself, and said so
    email = InvoiceEmail.objects.get(invoice=invoice)
    assert email.status == InvoiceEmailStatus.FAILED
    assert email.attempts.count() == 5
    assert AuditEvent.objects.filter(action=AuditAction.INVOICE_EMAIL_FAILED).count() == 1
    assert mailoutbox == []
    shown = invoice_emails(invoice.pk)
    assert shown.can_send and shown.last_sent_at is None
    assert shown.emails[0].status_label == "Failed"


@pytest.mark.django_db
def test_a_try_left_midway_goes_to_review_instead_of_out_again(mailoutbox):
    invoice = issue(make_client("acme"))
    email = InvoiceEmail.objects.get(invoice=invoice)
    InvoiceEmail.objects.filter(pk=email.pk).update(status=InvoiceEmailStatus.SENDING)

    outcome = deliver_invoice_email(email.pk, attempt=2, final=False)

    assert outcome["sent"] == 0 and mailoutbox == []
    email.refresh_from_db()
    assert email.status == InvoiceEmailStatus.NEEDS_REVIEW
    assert AuditEvent.objects.filter(action=AuditAction.INVOICE_EMAIL_NEEDS_REVIEW).exists()


@pytest.mark.django_db
def test_a_client_without_billing_contacts_gets_a_failed_email_not_a_retry(mailoutbox):
    acme = make_client("acme")
    acme.billing_contacts.all().delete()
    invoice = issue(acme)
    email = InvoiceEmail.objects.get(invoice=invoice)

    outcome = deliver_invoice_email(email.pk, attempt=1, final=False)

    assert outcome["status"] == "failed" and mailoutbox == []
    email.refresh_from_db()
    assert email.detail == "no billing contact"


def test_send_again_emails_the_invoice_once_more_and_both_are_listed(tx_db, mailoutbox):
    invoice = issue(make_client("acme"))
    run_worker()
    operator = make_user(Role.OPERATOR)
    key = uuid.uuid4()
    send_invoice_again(actor=operator, invoice_id=invoice.pk, key=key)
    with pytest.raises(Exception):  # noqa: B017, PT011 - AlreadySubmitted
        send_invoice_again(actor=operator, invoice_id=invoice.pk, key=key)

    run_worker()

    assert len(mailoutbox) == 2
    shown = invoice_emails(invoice.pk)
    assert [(e.reason_label, e.status) for e in shown.emails] == [
        ("Sent again", "sent"),
        ("On issue", "sent"),
    ]
    assert shown.emails[0].requested_by == operator.email
    assert InvoiceEmailAttempt.objects.count() == 2


def test_issuing_several_emails_each(tx_db, mailoutbox):
    drafts = [draft_invoice(make_client(), picks=2) for _ in range(3)]
    services.issue_drafts(
        actor=make_user(Role.OPERATOR), invoice_ids=[d.pk for d in drafts], key=uuid.uuid4()
    )
    run_worker()
    assert sorted(m.extra_headers["X-Tally-Invoice"] for m in mailoutbox) == [
        "INV-000001",
        "INV-000002",
        "INV-000003",
    ]


def test_an_email_queued_before_the_invoice_was_voided_is_never_sent(tx_db, mailoutbox):
    acme = make_client("acme")
    invoice = issue(acme)  # its email queued for the worker
    void_invoice(
        actor=make_user(Role.OPERATOR), client=acme, invoice_id=invoice.pk, reason="Wrong rate."
    )

    run_worker()

    assert mailoutbox == []
    [task] = email_tasks()
    assert task.status == TaskResultStatus.SUCCESSFUL  # done with, not tried again
    assert task.return_value == {"email": ANY, "sent": 0, "status": "not_sent"}
    email = InvoiceEmail.objects.get(invoice=invoice)
    assert (email.status, email.sent_at) == (InvoiceEmailStatus.NOT_SENT, None)
    assert email.detail == "the invoice is void: not sent"
    [attempt] = email.attempts.all()
    assert (attempt.attempt, attempt.outcome, attempt.recipients) == (1, "not_sent", [])
    not_sent = AuditEvent.objects.get(action=AuditAction.INVOICE_EMAIL_NOT_SENT)
    assert json.loads(not_sent.data)["after"]["detail"] == "the invoice is void: not sent"
    assert not AuditEvent.objects.filter(action=AuditAction.INVOICE_EMAIL_SENT).exists()
    # The console says so, and offers no send again of a void invoice.
    shown = invoice_emails(invoice.pk)
    assert [(e.status_label, e.detail) for e in shown.emails] == [
        ("Not sent", "the invoice is void: not sent")
    ]
    assert not shown.can_send and shown.last_sent_at is None
    # A second run of the task (a worker that died) changes nothing.
    tasks.send_invoice_email.enqueue(email.pk)
    run_worker()
    assert mailoutbox == [] and email.attempts.count() == 1
