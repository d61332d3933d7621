"""An issued invoice, emailed to its client's billing contacts: at issue, and again on
an operator's request.

Asking (`request_invoice_email`) writes an `InvoiceEmail` row and the worker's task in the
caller's transaction: an issue that rolls back sends nothing. The task
(`tally.worker.tasks.send_invoice_email`) calls `deliver_invoice_email`, which sends each
email at most once: an email already sent is left alone, a try that failed at the mail
server is retried by the worker (`tally.worker.retry`), and one a dead try left
`sending` (it may have gone out) waits for an operator rather than going out twice. An
email of an invoice voided before its try never goes: it is recorded as not sent.

The PDF is the portal's, a layer above: the worker passes it in (`attach`), as it does
for reminders (`tally.worker.emails`).
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tally import jobs
from tally.audit import services as audit
from tally.audit.actors import Actor, SystemActor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.clients.queries import billing_emails
from tally.errors import DomainError
from tally.money import format_money

from .instructions import payment_instructions
from .models import (
    Invoice,
    InvoiceEmail,
    InvoiceEmailAttempt,
    InvoiceEmailReason,
    InvoiceEmailStatus,
    InvoiceStatus,
)
from .services import client_today, lock_invoice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


# Makes what an email carries besides its text (the invoice's PDF): given by the caller,
# because the PDF is drawn by the portal, a layer above the domain apps.
Attacher = Callable[[Invoice, Client, date], list[Attachment]]


def invoice_url(number: str) -> str:
    """The invoice's page in the client portal, as a link in an email."""
    return settings.TALLY_BASE_URL + reverse("portal:invoice", args=[number])


class EmailNotSent(Exception):
    """The mail server did not take the email; the worker tries again later."""


def _label(actor: Actor) -> str:
    return actor.value if isinstance(actor, SystemActor) else actor.get_username()


def request_invoice_email(
    *, actor: Actor, client: Client, invoice_id: int, reason: str = InvoiceEmailReason.ISSUED
) -> InvoiceEmail:
    """Ask the worker to email an issued invoice, in the caller's transaction."""
    with transaction.atomic():
        invoice = lock_invoice(client, invoice_id)
        if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
            raise DomainError(
                "invoice_not_issued", f"a {invoice.status} invoice is not emailed to the client"
            )
        email = InvoiceEmail.objects.create(
            client=client, invoice=invoice, reason=reason, requested_by=_label(actor)
        )
        audit.record(
            actor=actor,
            action=AuditAction.INVOICE_EMAIL_REQUESTED,
            obj=email,
            after={"invoice_id": invoice.pk, "number": invoice.display_number, "reason": reason},
        )
        jobs.request(jobs.Job.SEND_INVOICE_EMAIL, email.pk)
    return email


def compose_invoice_email(
    *,
    invoice: Invoice,
    client: Client,
    recipients: list[str],
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The invoice email: from whom, which invoice, how much, by when, how to pay it
    (`instructions.payment_instructions`, per currency), how to see it. Written from
    `invoicing/invoice_email*.txt`, amounts and dates in the client's locale."""
    assert invoice.issue_date is not None and invoice.due_date is not None
    locale = client.locale or "en_US"
    number = invoice.display_number
    context = {
        "operator_name": settings.TALLY_OPERATOR_NAME,
        "client_name": client.name,
        "number": number,
        "total": format_money(invoice.total_minor, invoice.currency, locale),
        "balance": format_money(invoice.balance_minor, invoice.currency, locale),
        "settled": invoice.balance_minor == 0,
        "issued": format_date(invoice.issue_date, format="medium", locale=locale),
        "due": format_date(invoice.due_date, format="medium", locale=locale),
        "period_start": format_date(invoice.period_start, format="medium", locale=locale),
        "period_end": format_date(invoice.period_end, format="medium", locale=locale),
        "invoice_url": invoice_url(number),
        "pdf_attached": any(a.mimetype == "application/pdf" for a in attachments),
        # How to pay in the invoice's currency, as the portal and the PDF say it; nothing
        # when there is nothing to pay.
        "payment_instructions": (
            []
            if invoice.balance_minor == 0
            else payment_instructions(invoice.currency).splitlines()
        ),
    }
    subject = render_to_string("invoicing/invoice_email_subject.txt", context)
    message = EmailMessage(
        subject="".join(subject.splitlines()).strip(),
        body=render_to_string("invoicing/invoice_email.txt", context).rstrip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Tally-Invoice": number},
    )
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


def _finish(
    actor: Actor,
    email_id: int,
    attempt: int,
    status: str,
    *,
    recipients: list[str],
    error: str = "",
    action: AuditAction | None,
) -> None:
    """Record a try and the email's state after it, in one transaction."""
    with transaction.atomic():
        email = InvoiceEmail.objects.select_for_update().get(pk=email_id)
        InvoiceEmailAttempt.objects.create(
            client_id=email.client_id,
            email=email,
            attempt=attempt,
            recipients=recipients,
            outcome=InvoiceEmailStatus.FAILED if status == InvoiceEmailStatus.QUEUED else status,
            error=error,
        )
        before = {"status": email.status}
        email.status = status
        email.recipients = recipients
        email.detail = error[:300]
        fields = ["status", "recipients", "detail"]
        if status == InvoiceEmailStatus.SENT:
            email.sent_at = timezone.now()
            fields.append("sent_at")
        email.save(update_fields=fields)
        if action is not None:
            audit.record(
                actor=actor,
                action=action,
                obj=email,
                before=before,
                after={
                    "status": status,
                    "invoice_id": email.invoice_id,
                    "recipients": recipients,
                    "attempt": attempt,
                    "error": error,
                },
            )


def _not_sent(actor: Actor, email: InvoiceEmail, attempt: int, detail: str) -> None:
    """Record that a queued email will never go, and why (in the caller's transaction)."""
    log.info("invoice email %s not sent: %s", email.pk, detail)
    InvoiceEmailAttempt.objects.create(
        client_id=email.client_id,
        email=email,
        attempt=attempt,
        recipients=[],
        outcome=InvoiceEmailStatus.NOT_SENT,
        error=detail,
    )
    before = {"status": email.status}
    email.status = InvoiceEmailStatus.NOT_SENT
    email.detail = detail
    email.save(update_fields=["status", "detail"])
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_EMAIL_NOT_SENT,
        obj=email,
        before=before,
        after={
            "status": email.status,
            "invoice_id": email.invoice_id,
            "attempt": attempt,
            "detail": detail,
        },
    )


def _claim(actor: Actor, email_id: int, attempt: int) -> InvoiceEmail | None:
    """Take the email for this try, or None if it is not to be sent now: sent already,
    given up on, left midway by a try that died (then it goes to review), or of an
    invoice voided since it was asked for (then it is recorded as not sent)."""
    with transaction.atomic():
        email = InvoiceEmail.objects.select_for_update().get(pk=email_id)
        if email.status == InvoiceEmailStatus.SENDING:
            detail = "a try stopped while sending: the email may or may not have gone out"
            log.warning("invoice email %s needs review: %s", email.pk, detail)
            InvoiceEmailAttempt.objects.create(
                client_id=email.client_id,
                email=email,
                attempt=attempt,
                recipients=email.recipients,
                outcome=InvoiceEmailStatus.NEEDS_REVIEW,
                error=detail,
            )
            email.status = InvoiceEmailStatus.NEEDS_REVIEW
            email.detail = detail
            email.save(update_fields=["status", "detail"])
            audit.record(
                actor=actor,
                action=AuditAction.INVOICE_EMAIL_NEEDS_REVIEW,
                obj=email,
                before={"status": InvoiceEmailStatus.SENDING},
                after={"status": email.status, "attempt": attempt, "detail": detail},
            )
            return None
        if email.status != InvoiceEmailStatus.QUEUED:
            return None
        # Locked, so that a void being committed now is seen: the email then never goes.
        invoice_status = (
            Invoice.objects.select_for_update()
            .values_list("status", flat=True)
            .get(pk=email.invoice_id)
        )
        if invoice_status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID):
            _not_sent(actor, email, attempt, f"the invoice is {invoice_status}: not sent")
            return None
        email.status = InvoiceEmailStatus.SENDING
        email.save(update_fields=["status"])
        return email


def _attachments(attach: Attacher | None, invoice: Invoice, client: Client) -> list[Attachment]:
    """The caller's attachments; none if they cannot be made: the email still goes, with
    its link to the invoice in the portal."""
    if attach is None:
        return []
    try:
        return attach(invoice, client, client_today(client))
    except Exception:  # noqa: BLE001 - an email without its PDF beats no email
        log.exception("invoice %s: the email goes without its attachment", invoice.display_number)
        return []


def deliver_invoice_email(
    email_id: int,
    *,
    attempt: int,
    final: bool,
    attach: Attacher | None = None,
    connection: BaseEmailBackend | None = None,
    actor: Actor = SystemActor.WORKER,
) -> dict[str, Any]:
    """Send one requested invoice email, at most once. A mail server that refuses or
    cannot be reached raises `EmailNotSent` for the worker to try again, unless this is
    the `final` try: then the email is failed, for an operator to see and send again."""
    email = _claim(actor, email_id, attempt)
    if email is None:
        status = InvoiceEmail.objects.values_list("status", flat=True).get(pk=email_id)
        return {"email": email_id, "sent": 0, "status": status}
    invoice = Invoice.objects.get(pk=email.invoice_id)
    client = Client.objects.get(pk=email.client_id)
    recipients = billing_emails(client)
    if not recipients:
        _finish(
            actor,
            email_id,
            attempt,
            InvoiceEmailStatus.FAILED,
            recipients=[],
            error="no billing contact",
            action=AuditAction.INVOICE_EMAIL_FAILED,
        )
        return {"email": email_id, "sent": 0, "status": InvoiceEmailStatus.FAILED}
    message = compose_invoice_email(
        invoice=invoice,
        client=client,
        recipients=recipients,
        attachments=_attachments(attach, invoice, client),
    )
    try:
        connection = connection or get_connection(fail_silently=False)
        if connection.send_messages([message]) != 1:
            raise RuntimeError("the mail backend accepted no message")
    except Exception as e:  # noqa: BLE001 - any failure of the mail server is recorded
        error = f"{type(e).__name__}: {e}"
        _finish(
            actor,
            email_id,
            attempt,
            InvoiceEmailStatus.FAILED if final else InvoiceEmailStatus.QUEUED,
            recipients=recipients,
            error=error,
            action=AuditAction.INVOICE_EMAIL_FAILED if final else None,
        )
        if final:
            log.error("invoice email %s of %s not sent: %s", email_id, invoice, error)
            return {"email": email_id, "sent": 0, "status": InvoiceEmailStatus.FAILED}
        raise EmailNotSent(f"invoice email {email_id} of {invoice}: {error}") from e
    _finish(
        actor,
        email_id,
        attempt,
        InvoiceEmailStatus.SENT,
        recipients=recipients,
        action=AuditAction.INVOICE_EMAIL_SENT,
    )
    return {"email": email_id, "sent": 1, "status": InvoiceEmailStatus.SENT}
