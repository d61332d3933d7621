"""The emails a dispute's conversation sends: an operator's reply to the client's billing
contacts, a client's dispute, message or withdrawal to the operators. Each is one task of
the worker (`tally.jobs`), requested in the transaction that posts the message (or
withdraws the dispute), keyed by the message (or the dispute):
`DisputeMessage.emailed_at` (`Dispute.withdrawal_emailed_at`) is set once the mail server
has it, so a second try of the same task sends nothing. A send that fails raises, and the worker tries again; a worker
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
from typing import TypeVar

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tally.accounts.models import Role, User
from tally.audit import services as audit
from tally.audit.actors import Actor, SystemActor
from tally.audit.models import AuditAction
from tally.clients.queries import billing_emails
from tally.money import format_money

from .models import AuthorSide, Dispute, DisputeMessage, Resolution

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 30  # seconds: a hung mail server must not hold the worker forever
# What an email is about, and is sent once for: a message, or a dispute's withdrawal.
_Row = TypeVar("_Row", DisputeMessage, Dispute)


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


def _mail(email: EmailMessage) -> None:
    """Hand an email to the mail server; raises if it does not take it."""
    connection = get_connection(fail_silently=False, timeout=SMTP_TIMEOUT)
    if connection.send_messages([email]) != 1:
        raise RuntimeError("the mail backend accepted no message")


def _send_once(
    row: QuerySet[_Row],
    *,
    sent_at: str,
    wanted: Callable[[_Row], bool],
    recipients: Callable[[_Row], list[str]],
    compose: Callable[[_Row, list[str]], EmailMessage],
    dispute: Callable[[_Row], Dispute],
    action: AuditAction,
    after: dict[str, object],
    about: str,
    actor: Actor,
) -> list[str]:
    """Send the email about `row` (a query for one message or dispute) once: locked, and
    nothing if it is gone, its `sent_at` is set already or it is not `wanted` (not this
    email's kind). Otherwise mailed to its recipients (nobody: logged), `sent_at` set and
    the dispute's audit trail told whom, in one transaction; whom it went to."""
    with transaction.atomic():
        found = row.select_for_update(of=("self",)).first()
        if found is None or getattr(found, sent_at) is not None or not wanted(found):
            return []
        to = recipients(found)
        if to:
            _mail(compose(found, to))
        else:
            log.warning("%s: nobody to email", about)
        setattr(found, sent_at, timezone.now())
        found.save(update_fields=[sent_at])
        audit.record(
            actor=actor, action=action, obj=dispute(found), after={**after, "recipients": to}
        )
        return to


def _send_message(
    message_id: int,
    *,
    side: str,
    recipients: Callable[[DisputeMessage], list[str]],
    compose: Callable[[DisputeMessage, list[str]], EmailMessage],
    action: AuditAction,
    actor: Actor,
) -> list[str]:
    """A message's email, once: only a message of `side` has one."""
    return _send_once(
        DisputeMessage.objects.select_related(
            "dispute__invoice", "dispute__client", "dispute__owner", "author"
        ).filter(pk=message_id),
        sent_at="emailed_at",
        wanted=lambda m: m.author_side == side,
        recipients=recipients,
        compose=compose,
        dispute=lambda m: m.dispute,
        action=action,
        after={"message_id": message_id},
        about=f"dispute message {message_id}",
        actor=actor,
    )


def email_reply(message_id: int, *, actor: Actor = SystemActor.WORKER) -> list[str]:
    """Email an operator's reply to the client's billing contacts; whom it went to."""
    return _send_message(
        message_id,
        side=AuthorSide.OPERATOR,
        recipients=lambda m: billing_emails(m.dispute.client),
        compose=compose_reply,
        action=AuditAction.DISPUTE_REPLY_EMAILED,
        actor=actor,
    )


def notify_operators(message_id: int, *, actor: Actor = SystemActor.WORKER) -> list[str]:
    """Tell the operators of a client's new dispute or message; whom it went to."""
    return _send_message(
        message_id,
        side=AuthorSide.CLIENT,
        recipients=lambda m: operator_recipients(m.dispute.owner),
        compose=compose_operator_notice,
        action=AuditAction.DISPUTE_OPERATORS_NOTIFIED,
        actor=actor,
    )


def compose_withdrawal_notice(dispute: Dispute, recipients: list[str]) -> EmailMessage:
    """A client's withdrawal of its dispute, to the operators, with the links to the
    dispute (closed) and to the desk."""
    invoice = dispute.invoice
    client = dispute.client
    locale = client.locale or "en_US"
    who = dispute.resolved_by
    context = {
        "client_name": client.name,
        "number": invoice.display_number,
        "author": (who.full_name or who.email) if who else client.name,
        "summary": dispute.resolution_summary,
        "opened": format_date(dispute.opened_at.date(), format="medium", locale=locale),
        "at_stake": (
            format_money(dispute.amount_minor, invoice.currency, locale)
            if dispute.amount_minor
            else None
        ),
        "console_url": console_link(dispute.pk),
        "desk_url": settings.TALLY_BASE_URL + reverse("console:disputes"),
    }
    subject = render_to_string("disputes/operator_withdrawn_subject.txt", context)
    return EmailMessage(
        subject="".join(subject.splitlines()).strip(),
        body=render_to_string("disputes/operator_withdrawn_email.txt", context).rstrip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Tally-Invoice": invoice.display_number, "X-Tally-Dispute": str(dispute.pk)},
    )


def notify_withdrawal(dispute_id: int, *, actor: Actor = SystemActor.WORKER) -> list[str]:
    """Tell the operators that the client withdrew its dispute: its owner, else every
    operator (`operator_recipients`), as its messages are told; whom it went to. Once:
    a dispute already told of, or not withdrawn, sends nothing."""
    return _send_once(
        Dispute.objects.select_related("invoice", "client", "owner", "resolved_by").filter(
            pk=dispute_id
        ),
        sent_at="withdrawal_emailed_at",
        wanted=lambda d: d.resolution == Resolution.WITHDRAWN,
        recipients=lambda d: operator_recipients(d.owner),
        compose=compose_withdrawal_notice,
        dispute=lambda d: d,
        action=AuditAction.DISPUTE_OPERATORS_NOTIFIED,
        after={"withdrawn": True},
        about=f"dispute {dispute_id} withdrawn",
        actor=actor,
    )
