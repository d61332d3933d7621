"""The emails a dispute's conversation sends: an operator's reply to the client's billing
contacts, a client's dispute or message to the operators. Each is one task of the worker
(`tally.jobs`), requested in the transaction that posts the message, keyed by the message:
`DisputeMessage.emailed_at` is set once the mail server has it, so a second try of the
same task sends nothing. A send that fails raises, and the worker tries again; a worker
that dies between the mail server's answer and the commit sends it once more on the next
try (a duplicate notification beats a missing one). Internal notes are not messages: no
task ever reaches them.

Who is told of a client's message: the dispute's owner if an operator has taken it (the
one working it, without the rest of the team learning to ignore these emails), otherwise
every active operator, so that someone takes it; platform owners only when the 3PL has no
operator at all.
"""

import logging
from collections.abc import Callable

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tally.accounts.models import Role, User
from tally.audit import services as audit
from tally.audit.actors import Actor, SystemActor
from tally.audit.models import AuditAction
from tally.clients.queries import billing_emails
from tally.money import format_money

from .models import AuthorSide, DisputeMessage

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30  # seconds: a hung mail server must not hold the worker forever


def portal_link(number: str, dispute_id: int) -> str:
    """The dispute in the client portal: on its invoice's page."""
    return (
        f"{settings.TALLY_BASE_URL}{reverse('portal:invoice', args=[number])}#dispute-{dispute_id}"
    )


def console_link(dispute_id: int) -> str:
    return settings.TALLY_BASE_URL + reverse("console:dispute", args=[dispute_id])


def operator_recipients(owner: User | None) -> list[str]:
    """The owner, if an active operator owns the dispute; else every active operator (else
    every platform owner)."""
    if owner is not None and owner.is_active and owner.is_operator:
        return [owner.email]
    active = User.objects.filter(is_active=True).order_by("id")
    return list(active.filter(role=Role.OPERATOR).values_list("email", flat=True)) or list(
        active.filter(role=Role.PLATFORM_OWNER).values_list("email", flat=True)
    )


def _context(message: DisputeMessage) -> dict[str, object]:
    dispute = message.dispute
    invoice = dispute.invoice
    client = dispute.client
    locale = client.locale or "en_US"
    number = invoice.display_number
    at_stake = dispute.amount_minor
    return {
        "operator_name": settings.TALLY_OPERATOR_NAME,
        "client_name": client.name,
        "number": number,
        "body": message.body,
        "author": message.author.full_name or message.author.email,
        # The dispute's first message is its reason: the client has just opened it.
        "is_opening": not DisputeMessage.objects.filter(
            dispute=dispute, id__lt=message.pk
        ).exists(),
        "opened": format_date(dispute.opened_at.date(), format="medium", locale=locale),
        "at_stake": format_money(at_stake, invoice.currency, locale) if at_stake else None,
        "portal_url": portal_link(number, dispute.pk),
        "console_url": console_link(dispute.pk),
    }


def compose_reply(message: DisputeMessage, recipients: list[str]) -> EmailMessage:
    """An operator's reply, to the client's billing contacts, with the link to answer it."""
    return _compose("reply", message, recipients)


def compose_operator_notice(message: DisputeMessage, recipients: list[str]) -> EmailMessage:
    """A client's new dispute or message, to the operators, with the link to the console."""
    return _compose("operator_notice", message, recipients)


def _compose(name: str, message: DisputeMessage, recipients: list[str]) -> EmailMessage:
    context = _context(message)
    subject = render_to_string(f"disputes/{name}_subject.txt", context)
    return EmailMessage(
        subject="".join(subject.splitlines()).strip(),
        body=render_to_string(f"disputes/{name}_email.txt", context).rstrip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={
            "X-Tally-Invoice": str(context["number"]),
            "X-Tally-Dispute": str(message.dispute_id),
        },
    )


def _send(
    message_id: int,
    *,
    side: str,
    recipients: Callable[[DisputeMessage], list[str]],
    compose: Callable[[DisputeMessage, list[str]], EmailMessage],
    action: AuditAction,
    actor: Actor,
) -> list[str]:
    with transaction.atomic():
        message = (
            DisputeMessage.objects.select_for_update(of=("self",))
            .select_related("dispute__invoice", "dispute__client", "dispute__owner", "author")
            .filter(pk=message_id)
            .first()
        )
        if message is None or message.emailed_at is not None or message.author_side != side:
            return []  # gone, sent already, or not this email's kind of message
        to = recipients(message)
        if to:
            connection = get_connection(fail_silently=False, timeout=SMTP_TIMEOUT)
            if connection.send_messages([compose(message, to)]) != 1:
                raise RuntimeError("the mail backend accepted no message")
        else:
            log.warning("dispute message %s: nobody to email", message_id)
        message.emailed_at = timezone.now()
        message.save(update_fields=["emailed_at"])
        audit.record(
            actor=actor,
            action=action,
            obj=message.dispute,
            after={"message_id": message.pk, "recipients": to},
        )
        return to


def email_reply(message_id: int, *, actor: Actor = SystemActor.WORKER) -> list[str]:
    """Email an operator's reply to the client's billing contacts; whom it went to."""
    return _send(
        message_id,
        side=AuthorSide.OPERATOR,
        recipients=lambda m: billing_emails(m.dispute.client),
        compose=compose_reply,
        action=AuditAction.DISPUTE_REPLY_EMAILED,
        actor=actor,
    )


def notify_operators(message_id: int, *, actor: Actor = SystemActor.WORKER) -> list[str]:
    """Tell the operators of a client's new dispute or message; whom it went to."""
    return _send(
        message_id,
        side=AuthorSide.CLIENT,
        recipients=lambda m: operator_recipients(m.dispute.owner),
        compose=compose_operator_notice,
        action=AuditAction.DISPUTE_OPERATORS_NOTIFIED,
        actor=actor,
    )
