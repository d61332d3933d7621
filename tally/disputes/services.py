"""Disputes: a client contests an invoice, both sides talk, an operator settles it.

Each message is emailed to the other side by the worker (`emails`): an operator's reply to
the client's billing contacts, a client's dispute or message to the operators.

Who may do what:

- a client user opens disputes, posts messages and withdraws disputes, only for their own
  client; anything of another client answers "not found", exactly as if it did not exist;
- operators and platform owners do all of that on behalf of any client, and they alone
  resolve a dispute (credited, charge upheld, withdrawn). A resolution may credit the
  invoice, which may pay it and stop its reminders: resolving is an action
  (`tally.actions.disputes`) built from `check_resolution` and `close_resolved`.

A dispute may be opened on an issued invoice — open, or already paid (a client may find an
error after paying) — never on a draft (clients never see drafts) or a void invoice. At most
one dispute per invoice is open at a time; the database backs that with a conditional
unique constraint, and a race on it ends in the same clean "dispute_already_open" refusal.

Operators' internal notes are a separate app (`tally.internal_notes`); this module never
imports it, so nothing that starts from a dispute can reach them.
"""

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tally import jobs
from tally.accounts.models import Role, User
from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.errors import DomainError, NotFound, Problem
from tally.invoicing.models import CreditNote, InvoiceLine, InvoiceStatus
from tally.invoicing.services import lock_invoice
from tally.money import format_money

from .attachments import Accepted, Upload, accept
from .models import (
    AuthorSide,
    Dispute,
    DisputeAttachment,
    DisputeAttachmentContent,
    DisputeLine,
    DisputeMessage,
    DisputeStatus,
    Resolution,
)

MAX_TEXT = 10_000
DISPUTABLE = (InvoiceStatus.OPEN, InvoiceStatus.PAID)
WITHDRAWN_BY_CLIENT = "Withdrawn by the client."


def _side(actor: Actor, client: Client, what: str) -> str:
    """The side the actor speaks for on this client's disputes, or a refusal.

    A client user of another client gets NotFound(what): the same answer as a missing id.
    """
    if not isinstance(actor, User) or not actor.is_active:
        raise DomainError("forbidden", "a signed-in, active user is required")
    if actor.is_operator:
        return AuthorSide.OPERATOR
    if actor.role == Role.CLIENT_USER and actor.client_id == client.pk:
        return AuthorSide.CLIENT
    raise NotFound(what)


def _text_problem(value: str | None, field: str) -> Problem | None:
    text = (value or "").strip()
    if not text:
        return Problem("is required", field=field)
    if len(text) > MAX_TEXT:
        return Problem(f"must be at most {MAX_TEXT} characters", field=field)
    return None


def _lock_dispute(client: Client, dispute_id: int) -> Dispute:
    try:
        return Dispute.objects.select_for_update().get(pk=dispute_id, client=client)
    except Dispute.DoesNotExist:
        raise NotFound("dispute") from None


def _snapshot(dispute: Dispute) -> dict[str, Any]:
    return {
        "status": dispute.status,
        "resolution": dispute.resolution,
        "resolution_summary": dispute.resolution_summary,
        "credit_note_id": dispute.credit_note_id,
        "resolved_by_id": dispute.resolved_by_id,
        "resolved_at": dispute.resolved_at,
    }


def _refuse_if_resolved(dispute: Dispute) -> None:
    if dispute.status != DisputeStatus.OPEN:
        raise DomainError(
            "dispute_resolved", f"the dispute was already resolved ({dispute.resolution})"
        )


@transaction.atomic
def open_dispute(
    *,
    actor: User,
    client: Client,
    invoice_id: int,
    reason: str,
    amount_minor: int | None = None,
    line_ids: list[int] | None = None,
    attachments: Sequence[Upload] = (),
) -> Dispute:
    """Contest an issued invoice, optionally only some of its lines and a given amount.

    The reason also becomes the first message of the dispute's conversation, with the
    files sent with it.
    """
    side = _side(actor, client, "invoice")
    # Locking the invoice serialises this with voiding, crediting and a second dispute.
    invoice = lock_invoice(client, invoice_id)
    if invoice.status == InvoiceStatus.DRAFT:
        # Clients never see drafts; for them a draft does not exist.
        if side == AuthorSide.CLIENT:
            raise NotFound("invoice")
        raise DomainError("invoice_not_issued", "a draft invoice cannot be disputed")
    if invoice.status not in DISPUTABLE:
        raise DomainError(
            "invoice_not_disputable", f"a {invoice.status} invoice cannot be disputed"
        )

    wanted = list(dict.fromkeys(line_ids or []))
    lines: list[InvoiceLine] = []
    if wanted:
        found = {
            line.pk: line
            for line in InvoiceLine.objects.filter(pk__in=wanted, invoice=invoice, client=client)
        }
        if len(found) != len(wanted):
            raise NotFound("line")
        lines = [found[pk] for pk in wanted]

    problems = []
    text_problem = _text_problem(reason, "reason")
    if text_problem:
        problems.append(text_problem)
    files, file_problems = accept(attachments)
    problems += file_problems
    if amount_minor is not None:
        limit = invoice.total_minor
        what = "the invoice total"
        if lines:
            limit = min(limit, sum(line.amount_minor for line in lines))
            what = "the disputed lines' amounts"
        if amount_minor <= 0:
            problems.append(Problem("must be positive", field="amount"))
        elif amount_minor > limit:
            problems.append(
                Problem(
                    f"must be at most {format_money(max(limit, 0), invoice.currency)} ({what})",
                    field="amount",
                )
            )
    if problems:
        raise DomainError("invalid_dispute", "the dispute was not opened", problems)

    if _open_dispute_exists(invoice.pk):
        raise _already_open()
    try:
        with transaction.atomic():
            dispute = Dispute.objects.create(
                client=client,
                invoice=invoice,
                amount_minor=amount_minor,
                reason=reason.strip(),
                opened_by=actor,
            )
    except IntegrityError:
        # Only the one-open-dispute constraint is expected here; anything else is a bug.
        if _open_dispute_exists(invoice.pk):
            raise _already_open() from None
        raise
    DisputeLine.objects.bulk_create(
        [DisputeLine(client=client, dispute=dispute, line=line) for line in lines]
    )
    message = DisputeMessage.objects.create(
        client=client, dispute=dispute, author=actor, author_side=side, body=reason.strip()
    )
    audit.record(
        actor=actor,
        action=AuditAction.DISPUTE_OPENED,
        obj=dispute,
        after={
            "invoice_id": invoice.pk,
            "invoice_status": invoice.status,
            "amount_minor": amount_minor,
            "line_ids": [line.pk for line in lines],
            "reason": dispute.reason,
            "side": side,
            "message_id": message.pk,
            "attachments": _attach(message, files),
        },
    )
    if side == AuthorSide.CLIENT:
        # Written in this transaction: a dispute that commits always has its notice.
        jobs.request(jobs.Job.NOTIFY_OPERATORS_OF_DISPUTE, message.pk)
    return dispute


def _attach(message: DisputeMessage, files: list[Accepted]) -> list[dict[str, Any]]:
    """Keep a message's accepted files; what the audit trail records of each."""
    for file in files:
        attachment = DisputeAttachment.objects.create(
            client_id=message.client_id,
            dispute_id=message.dispute_id,
            message=message,
            filename=file.filename,
            content_type=file.content_type,
            size_bytes=len(file.data),
            sha256=file.sha256,
        )
        DisputeAttachmentContent.objects.create(
            attachment=attachment, client_id=message.client_id, data=file.data
        )
    return [
        {"filename": f.filename, "type": f.content_type, "bytes": len(f.data), "sha256": f.sha256}
        for f in files
    ]


def _open_dispute_exists(invoice_id: int) -> bool:
    return Dispute.objects.filter(invoice_id=invoice_id, status=DisputeStatus.OPEN).exists()


def _already_open() -> DomainError:
    return DomainError(
        "dispute_already_open",
        "this invoice already has an open dispute; continue its conversation instead",
    )


@transaction.atomic
def post_dispute_message(
    *,
    actor: User,
    client: Client,
    dispute_id: int,
    body: str,
    attachments: Sequence[Upload] = (),
) -> DisputeMessage:
    """Add a client-visible message, and the files sent with it, to an open dispute."""
    side = _side(actor, client, "dispute")
    dispute = _lock_dispute(client, dispute_id)
    _refuse_if_resolved(dispute)
    problem = _text_problem(body, "body")
    files, problems = accept(attachments)
    if problem:
        problems.insert(0, problem)
    if problems:
        raise DomainError("invalid_message", "the message was not posted", problems)
    message = DisputeMessage.objects.create(
        client=client, dispute=dispute, author=actor, author_side=side, body=body.strip()
    )
    audit.record(
        actor=actor,
        action=AuditAction.DISPUTE_MESSAGE_POSTED,
        obj=message,
        after={
            "dispute_id": dispute.pk,
            "side": side,
            "body": message.body,
            "attachments": _attach(message, files),
        },
    )
    # The other side hears of it by email, from the worker; the task's row is written in
    # this transaction, so a message that commits is always emailed and one rolled back
    # never is.
    if side == AuthorSide.OPERATOR:
        jobs.request(jobs.Job.EMAIL_DISPUTE_REPLY, message.pk)
    else:
        jobs.request(jobs.Job.NOTIFY_OPERATORS_OF_DISPUTE, message.pk)
    return message


def check_resolution(
    *,
    actor: User,
    client: Client,
    dispute_id: int,
    resolution: str,
    summary: str,
    credit_amount_minor: int | None = None,
    credit_reason: str | None = None,
) -> Dispute:
    """Lock an open dispute and check a resolution of it (operators only); writes nothing.

    Part of `tally.actions.disputes.resolve_dispute`, which credits the invoice between
    this and `close_resolved`, in one transaction.
    """
    side = _side(actor, client, "dispute")
    dispute = _lock_dispute(client, dispute_id)
    if side != AuthorSide.OPERATOR:
        raise DomainError(
            "forbidden", "only an operator resolves a dispute; a client may withdraw it"
        )
    _refuse_if_resolved(dispute)

    problems = []
    if resolution not in Resolution.values:
        problems.append(
            Problem(f"must be one of {', '.join(Resolution.values)}", field="resolution")
        )
    text_problem = _text_problem(summary, "summary")
    if text_problem:
        problems.append(text_problem)
    if resolution == Resolution.CREDITED:
        if credit_amount_minor is None:
            problems.append(Problem("is required to credit", field="credit_amount"))
        elif credit_amount_minor <= 0:
            problems.append(Problem("must be positive", field="credit_amount"))
        if credit_reason is not None and len(credit_reason.strip()) > MAX_TEXT:
            problems.append(
                Problem(f"must be at most {MAX_TEXT} characters", field="credit_reason")
            )
    elif credit_amount_minor is not None or credit_reason:
        problems.append(Problem("only a credited resolution has a credit", field="credit_amount"))
    if problems:
        raise DomainError("invalid_resolution", "the dispute was not resolved", problems)
    return dispute


def close_resolved(
    *,
    actor: User,
    dispute: Dispute,
    resolution: str,
    summary: str,
    credit_note: CreditNote | None,
    credit_amount_minor: int | None,
) -> Dispute:
    """Close a dispute `check_resolution` passed, linked to its credit note if any."""
    before = _snapshot(dispute)
    if credit_note is not None:
        dispute.credit_note = credit_note
    _close(dispute, actor, resolution, summary.strip())
    audit.record(
        actor=actor,
        action=AuditAction.DISPUTE_RESOLVED,
        obj=dispute,
        before=before,
        after={**_snapshot(dispute), "credit_amount_minor": credit_amount_minor},
    )
    return dispute


@transaction.atomic
def withdraw_dispute(*, actor: User, client: Client, dispute_id: int, summary: str = "") -> Dispute:
    """The client takes its dispute back (an operator may record this on its behalf).

    When the client does, the operators hear of it as they hear of its messages: its
    owner, or every operator while nobody owns it, by email from the worker, requested
    in this transaction (`emails.notify_withdrawal`)."""
    side = _side(actor, client, "dispute")
    dispute = _lock_dispute(client, dispute_id)
    _refuse_if_resolved(dispute)
    text = summary.strip() or WITHDRAWN_BY_CLIENT
    if len(text) > MAX_TEXT:
        raise DomainError(
            "invalid_resolution",
            "the dispute was not withdrawn",
            [Problem(f"must be at most {MAX_TEXT} characters", field="summary")],
        )
    before = _snapshot(dispute)
    _close(dispute, actor, Resolution.WITHDRAWN, text)
    audit.record(
        actor=actor,
        action=AuditAction.DISPUTE_WITHDRAWN,
        obj=dispute,
        before=before,
        after=_snapshot(dispute),
    )
    if side == AuthorSide.CLIENT:
        jobs.request(jobs.Job.NOTIFY_OPERATORS_OF_WITHDRAWAL, dispute.pk)
    return dispute


def _ownership(dispute: Dispute) -> dict[str, Any]:
    return {
        "owner_id": dispute.owner_id,
        "owned_since": dispute.owned_since,
        "previous_owner_id": dispute.previous_owner_id,
    }


def _owner_label(user_id: int | None) -> str:
    if user_id is None:
        return "nobody"
    user = User.objects.filter(pk=user_id).values_list("full_name", "email").first()
    return (user[0] or user[1]) if user else f"user {user_id}"


@transaction.atomic
def take_dispute(
    *, actor: User, client: Client, dispute_id: int, from_owner_id: int | None
) -> Dispute:
    """An operator takes a dispute to work it: unowned, or over from the operator who had
    it. `from_owner_id` is the owner the operator saw (None: nobody); if someone else has
    taken it meanwhile, nothing changes and the refusal names them (two operators taking
    the same dispute at once: the row lock lets one in, the other is told)."""
    side = _side(actor, client, "dispute")
    dispute = _lock_dispute(client, dispute_id)
    if side != AuthorSide.OPERATOR:
        raise DomainError("forbidden", "only an operator takes a dispute")
    _refuse_if_resolved(dispute)
    if dispute.owner_id == actor.pk:
        return dispute  # already theirs: taking it twice changes nothing
    if dispute.owner_id != from_owner_id:
        raise DomainError(
            "dispute_owner_changed",
            f"{_owner_label(dispute.owner_id)} has taken this dispute meanwhile",
        )
    before = _ownership(dispute)
    dispute.previous_owner_id = dispute.owner_id
    dispute.owner = actor
    dispute.owned_since = timezone.now()
    dispute.save(update_fields=["owner", "owned_since", "previous_owner"])
    audit.record(
        actor=actor,
        action=AuditAction.DISPUTE_TAKEN,
        obj=dispute,
        before=before,
        after={**_ownership(dispute), "taken_over": from_owner_id is not None},
    )
    return dispute


@transaction.atomic
def release_dispute(*, actor: User, client: Client, dispute_id: int) -> Dispute:
    """The owner gives the dispute back: unowned again, for anyone to take. Only its owner
    may; another operator takes it over instead (`take_dispute`), which says so."""
    side = _side(actor, client, "dispute")
    dispute = _lock_dispute(client, dispute_id)
    if side != AuthorSide.OPERATOR:
        raise DomainError("forbidden", "only an operator gives a dispute back")
    _refuse_if_resolved(dispute)
    if dispute.owner_id != actor.pk:
        raise DomainError(
            "not_dispute_owner",
            f"only its owner gives a dispute back; {_owner_label(dispute.owner_id)} has it",
        )
    before = _ownership(dispute)
    dispute.previous_owner_id = actor.pk
    dispute.owner = None
    dispute.owned_since = None
    dispute.save(update_fields=["owner", "owned_since", "previous_owner"])
    audit.record(
        actor=actor,
        action=AuditAction.DISPUTE_RELEASED,
        obj=dispute,
        before=before,
        after=_ownership(dispute),
    )
    return dispute


def _close(dispute: Dispute, actor: User, resolution: str, summary: str) -> None:
    dispute.status = DisputeStatus.RESOLVED
    dispute.resolution = resolution
    dispute.resolution_summary = summary
    dispute.resolved_by = actor
    dispute.resolved_at = timezone.now()
    dispute.save(
        update_fields=[
            "status",
            "resolution",
            "resolution_summary",
            "resolved_by",
            "resolved_at",
            "credit_note",
        ]
    )
