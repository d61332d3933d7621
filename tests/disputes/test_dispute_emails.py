"""A dispute's conversation by email: an operator's reply goes to the client's billing
contacts with a link to the dispute in the portal; a client's dispute, message or
withdrawal goes to the operators. Through the worker, requested in the message's transaction, retried,
recorded, never twice, never an internal note."""

import json
import uuid

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.test import Client as WebClient
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tally.accounts.models import Role
from tally.actions.disputes import resolve_dispute
from tally.audit.models import AuditAction, AuditEvent
from tally.clients.models import BillingContact
from tally.console.queries import disputes as desk_queries
from tally.console.services import disputes as console
from tally.disputes import emails
from tally.disputes.models import DisputeMessage
from tally.disputes.services import (
    open_dispute,
    post_dispute_message,
    take_dispute,
    withdraw_dispute,
)
from tally.worker import tasks
from tests.clock import ManualClock
from tests.factories import issued_invoice, make_client, make_user
from tests.worker.conftest import run_worker

REPLY = "We found the cancelled orders; a credit follows."


def queued(task) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=task.module_path).order_by("enqueued_at"))


class RefusingBackend(BaseEmailBackend):
    """A mail server that answers every message with an error."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server said no")


@pytest.fixture
def story(db, settings):
    settings.TALLY_BASE_URL = "https://billing.northwind.example"
    acme = make_client("acme")
    BillingContact.objects.create(client=acme, name="Accounts", email="accounts@acme.example")
    invoice = issued_invoice(acme, picks=10, labels=20)  # $4.40
    user = make_user(Role.CLIENT_USER, client=acme, email="ap@acme.example")
    operator = make_user(Role.OPERATOR, email="ops@northwind.example")
    dispute = open_dispute(
        actor=user, client=acme, invoice_id=invoice.pk, reason="Labels.", amount_minor=90
    )
    return acme, invoice, user, operator, dispute


def reply(operator, dispute, body=REPLY):
    return console.reply_to_dispute(
        actor=operator, dispute_id=dispute.pk, body=body, key=uuid.uuid4()
    )


def test_a_reply_is_emailed_to_the_billing_contacts_with_a_link_to_the_dispute(
    tx_db, story, mailoutbox
):
    acme, invoice, user, operator, dispute = story
    message = reply(operator, dispute)
    [task] = queued(tasks.email_dispute_reply)
    assert task.args_kwargs["args"] == [message.pk] and task.status == TaskResultStatus.READY

    run_worker()

    replies = [m for m in mailoutbox if m.to != ["ops@northwind.example"]]
    [email] = replies
    number = invoice.display_number
    assert sorted(email.to) == ["accounts@acme.example", "ap@acme.example"]
    assert email.subject == f"Northwind Logistics replied about your dispute on invoice {number}"
    assert REPLY in email.body and "($0.90 disputed)" in email.body
    link = f"https://billing.northwind.example/invoices/{number}/#dispute-{dispute.pk}"
    assert f"\n  {link}\n" in email.body
    [audit] = AuditEvent.objects.filter(action=AuditAction.DISPUTE_REPLY_EMAILED)
    assert "accounts@acme.example" in audit.data and str(message.pk) in audit.data
    message.refresh_from_db()
    assert message.emailed_at is not None
    # The link opens the invoice's page, with the dispute on it, for the client's users.
    web = WebClient()
    web.force_login(user)
    page = web.get(link.removeprefix("https://billing.northwind.example").split("#")[0])
    assert page.status_code == 200 and f'id="dispute-{dispute.pk}"' in page.content.decode()
    # Run again (a retry after a try that sent): nothing more goes out.
    before = len(mailoutbox)
    assert emails.email_reply(message.pk) == []
    assert len(mailoutbox) == before


@pytest.mark.django_db
def test_an_internal_note_requests_no_email_and_sends_none(story, mailoutbox):
    _, _, _, operator, dispute = story
    tasks_before = DBTaskResult.objects.count()
    console.note_on_dispute(
        actor=operator, dispute_id=dispute.pk, body="Credit them in full.", key=uuid.uuid4()
    )
    assert DBTaskResult.objects.count() == tasks_before
    # Even asked by hand, a client's message is not sent as a reply.
    client_message = DisputeMessage.objects.get(dispute=dispute)
    assert emails.email_reply(client_message.pk) == []
    assert mailoutbox == []


@pytest.mark.django_db
def test_a_reply_rolled_back_leaves_no_task(story):
    _, _, _, operator, dispute = story
    before = len(queued(tasks.email_dispute_reply))
    with pytest.raises(RuntimeError), transaction.atomic():
        reply(operator, dispute)
        raise RuntimeError("the request failed after the reply")
    assert len(queued(tasks.email_dispute_reply)) == before


@pytest.mark.django_db
def test_a_mail_server_error_leaves_the_reply_to_send_again(story, mailoutbox, settings):
    _, _, _, operator, dispute = story
    message = reply(operator, dispute)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with pytest.raises(ConnectionRefusedError):
        emails.email_reply(message.pk)
    message.refresh_from_db()
    assert message.emailed_at is None
    assert not AuditEvent.objects.filter(action=AuditAction.DISPUTE_REPLY_EMAILED).exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert emails.email_reply(message.pk) == ["ap@acme.example", "accounts@acme.example"]


def test_the_worker_tries_a_failed_reply_again_after_a_backoff(
    tx_db, story, mailoutbox, settings, monkeypatch
):
    _, _, _, operator, dispute = story
    reply(operator, dispute)
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    run_worker()
    [task] = queued(tasks.email_dispute_reply)
    assert task.status == TaskResultStatus.READY and "the mail server said no" in task.traceback
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock.advance(seconds=30)
    run_worker()
    [task] = queued(tasks.email_dispute_reply)
    assert task.status == TaskResultStatus.SUCCESSFUL
    assert task.return_value == {"recipients": ["ap@acme.example", "accounts@acme.example"]}
    assert sum(REPLY in m.body for m in mailoutbox) == 1


@pytest.mark.django_db
def test_a_new_dispute_notifies_every_active_operator_and_no_one_else(story, mailoutbox):
    acme, invoice, user, operator, dispute = story
    other = make_user(Role.OPERATOR, email="bob@northwind.example")
    gone = make_user(Role.OPERATOR, email="gone@northwind.example")
    gone.is_active = False
    gone.save()
    make_user(Role.PLATFORM_OWNER, email="owner@northwind.example")
    [task] = queued(tasks.notify_operators_of_dispute)
    first = DisputeMessage.objects.get(dispute=dispute)
    assert task.args_kwargs["args"] == [first.pk]

    sent_to = emails.notify_operators(first.pk)

    assert sent_to == ["ops@northwind.example", "bob@northwind.example"]
    [email] = mailoutbox
    number = invoice.display_number
    assert email.subject == f"Acme Inc. disputes invoice {number}"
    assert "ap@acme.example of Acme Inc. opened a dispute on invoice" in email.body
    assert "for $0.90:\n\nLabels.\n" in email.body
    assert f"https://billing.northwind.example/console/disputes/{dispute.pk}/" in email.body
    assert other.email in email.to and gone.email not in email.to
    [audit] = AuditEvent.objects.filter(action=AuditAction.DISPUTE_OPERATORS_NOTIFIED)
    assert "bob@northwind.example" in audit.data


@pytest.mark.django_db
def test_a_client_message_on_an_owned_dispute_notifies_its_owner_only(story, mailoutbox):
    acme, invoice, user, operator, dispute = story
    make_user(Role.OPERATOR, email="bob@northwind.example")
    take_dispute(actor=operator, client=acme, dispute_id=dispute.pk, from_owner_id=None)
    message = post_dispute_message(actor=user, client=acme, dispute_id=dispute.pk, body="Any news?")
    [_, task] = queued(tasks.notify_operators_of_dispute)
    assert task.args_kwargs["args"] == [message.pk]

    assert emails.notify_operators(message.pk) == ["ops@northwind.example"]
    [email] = mailoutbox
    assert email.subject == f"Acme Inc. wrote about the dispute on {invoice.display_number}"
    assert "Any news?" in email.body
    # An operator's own message never notifies the operators.
    mine = reply(operator, dispute)
    assert emails.notify_operators(mine.pk) == []


@pytest.mark.django_db
def test_an_operator_opening_a_dispute_for_the_client_notifies_nobody(story):
    acme, _, _, operator, _ = story
    second = issued_invoice(acme, picks=3)
    before = len(queued(tasks.notify_operators_of_dispute))
    open_dispute(actor=operator, client=acme, invoice_id=second.pk, reason="On the phone.")
    assert len(queued(tasks.notify_operators_of_dispute)) == before


@pytest.mark.django_db
def test_a_reply_email_is_written_in_the_clients_locale(mailoutbox, settings):
    berlin = make_client("berlin", currency="EUR", locale="de_DE")
    invoice = issued_invoice(berlin, picks=100)
    user = make_user(Role.CLIENT_USER, client=berlin)
    operator = make_user(Role.OPERATOR)
    dispute = open_dispute(
        actor=user, client=berlin, invoice_id=invoice.pk, reason="Zu viel.", amount_minor=1250
    )
    message = reply(operator, dispute, "Wir prüfen das.")
    emails.email_reply(message.pk)
    [email] = [m for m in mailoutbox if "Wir prüfen das." in m.body]
    assert "(12,50\xa0€ disputed)" in email.body


# -- a client's withdrawal ------------------------------------------------------------------
def _withdraw_in_the_portal(user, invoice, dispute, why: str):
    web = WebClient()
    web.force_login(user)
    url = reverse("portal:withdraw", args=[invoice.display_number, dispute.pk])
    assert web.post(url, {"why": why}).status_code == 302


def test_a_withdrawal_in_the_portal_emails_every_operator_and_leaves_the_desk(
    tx_db, story, mailoutbox
):
    acme, invoice, user, operator, dispute = story
    other = make_user(Role.OPERATOR, email="bob@northwind.example")
    run_worker()  # the notice of the dispute's opening goes out first
    mailoutbox.clear()
    today = timezone.now().date()
    assert [row.id for row in desk_queries.dispute_desk(today).rows] == [dispute.pk]

    _withdraw_in_the_portal(user, invoice, dispute, "Found the cancelled orders, sorry.")
    [task] = queued(tasks.notify_operators_of_withdrawal)
    assert task.args_kwargs["args"] == [dispute.pk]
    run_worker()

    [email] = mailoutbox
    number = invoice.display_number
    assert sorted(email.to) == sorted([operator.email, other.email])
    assert email.subject == f"Acme Inc. withdrew its dispute on invoice {number}"
    assert "ap@acme.example of Acme Inc. withdrew the dispute on invoice" in email.body
    assert "for $0.90:\n\nFound the cancelled orders, sorry.\n" in email.body
    assert f"\n  https://billing.northwind.example/console/disputes/{dispute.pk}/\n" in email.body
    assert "\n  https://billing.northwind.example/console/disputes/\n" in email.body
    [task] = queued(tasks.notify_operators_of_withdrawal)
    assert task.status == TaskResultStatus.SUCCESSFUL
    notified = AuditEvent.objects.filter(action=AuditAction.DISPUTE_OPERATORS_NOTIFIED)
    assert notified.filter(object_id=str(dispute.pk), data__contains="withdrawn").count() == 1
    # The desk: closed, off the queue and out of its counts.
    assert desk_queries.dispute_desk(today).rows == []
    assert desk_queries.desk_counts() == (0, 0)
    page = _operator_web(operator).get(reverse("console:disputes")).content.decode()
    assert f'href="/console/disputes/{dispute.pk}/"' not in page
    # The link in the email opens the dispute, closed, with the client's words.
    page = _operator_web(operator).get(f"/console/disputes/{dispute.pk}/").content.decode()
    assert "Found the cancelled orders, sorry." in page and "Withdrawn" in page
    # Once: a second try of the task sends nothing.
    assert emails.notify_withdrawal(dispute.pk) == []
    assert len(mailoutbox) == 1


def _operator_web(operator) -> WebClient:
    web = WebClient()
    web.force_login(operator)
    return web


@pytest.mark.django_db
def test_a_withdrawal_of_an_owned_dispute_notifies_its_owner_only(story, mailoutbox):
    acme, invoice, user, operator, dispute = story
    make_user(Role.OPERATOR, email="bob@northwind.example")
    take_dispute(actor=operator, client=acme, dispute_id=dispute.pk, from_owner_id=None)
    withdraw_dispute(actor=user, client=acme, dispute_id=dispute.pk)
    assert emails.notify_withdrawal(dispute.pk) == ["ops@northwind.example"]
    [email] = mailoutbox
    assert "\n\nWithdrawn by the client.\n" in email.body
    dispute.refresh_from_db()
    assert dispute.withdrawal_emailed_at is not None


@pytest.mark.django_db
def test_an_operator_withdrawing_for_the_client_notifies_nobody(story):
    acme, _, _, operator, dispute = story
    withdraw_dispute(actor=operator, client=acme, dispute_id=dispute.pk, summary="By phone.")
    assert queued(tasks.notify_operators_of_withdrawal) == []


@pytest.mark.django_db
def test_a_dispute_still_open_or_resolved_otherwise_is_not_told_as_withdrawn(story, mailoutbox):
    acme, _, _, operator, dispute = story
    assert emails.notify_withdrawal(dispute.pk) == []
    resolve_dispute(
        actor=operator, client=acme, dispute_id=dispute.pk, resolution="upheld", summary="No."
    )
    assert emails.notify_withdrawal(dispute.pk) == [] and mailoutbox == []


@pytest.mark.django_db
def test_a_mail_server_error_leaves_the_withdrawal_to_tell_again(story, mailoutbox, settings):
    acme, _, user, _, dispute = story
    withdraw_dispute(actor=user, client=acme, dispute_id=dispute.pk)
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with pytest.raises(ConnectionRefusedError):
        emails.notify_withdrawal(dispute.pk)
    dispute.refresh_from_db()
    assert dispute.withdrawal_emailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert emails.notify_withdrawal(dispute.pk) == ["ops@northwind.example"]


@pytest.mark.django_db
def test_with_nobody_to_tell_a_message_and_a_withdrawal_are_logged_and_done_once(
    story, mailoutbox, caplog
):
    acme, _, user, operator, dispute = story
    operator.is_active = False
    operator.save()  # and no platform owner: nobody at the 3PL to tell
    first = DisputeMessage.objects.get(dispute=dispute)
    withdraw_dispute(actor=user, client=acme, dispute_id=dispute.pk)

    with caplog.at_level("WARNING", logger="tally.disputes.emails"):
        assert emails.notify_operators(first.pk) == []
        assert emails.notify_withdrawal(dispute.pk) == []

    assert [r.getMessage() for r in caplog.records] == [
        f"dispute message {first.pk}: nobody to email",
        f"dispute {dispute.pk} withdrawn: nobody to email",
    ]
    first.refresh_from_db()
    dispute.refresh_from_db()
    assert first.emailed_at is not None and dispute.withdrawal_emailed_at is not None
    notified = AuditEvent.objects.filter(action=AuditAction.DISPUTE_OPERATORS_NOTIFIED)
    assert [(e.object_id, json.loads(e.data)["after"]) for e in notified.order_by("id")] == [
        (str(dispute.pk), {"message_id": first.pk, "recipients": []}),
        (str(dispute.pk), {"withdrawn": True, "recipients": []}),
    ]
    # Done, though nobody was told: a second try logs nothing more.
    caplog.clear()
    assert emails.notify_operators(first.pk) == [] and emails.notify_withdrawal(dispute.pk) == []
    assert caplog.records == [] and mailoutbox == []
