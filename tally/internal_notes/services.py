"""Operators' internal notes on disputes: written here, never shown to clients.

A client user asking to write one gets "not found" — the feature does not exist for them.
The audit trail records who added which note to which dispute and a SHA-256 of the body
(so a later edit of the note shows), but not the body itself: audit rows carry the
client's id, and the note's words must not travel anywhere a client-facing reader of
that trail might one day look.
"""

import hashlib

from django.db import transaction

from tally.accounts.models import User
from tally.audit import services as audit
from tally.audit.models import AuditAction
from tally.disputes.models import Dispute
from tally.errors import DomainError, NotFound, Problem

from .models import InternalNote

MAX_BODY = 10_000


@transaction.atomic
def add_internal_note(*, actor: User, dispute_id: int, body: str) -> InternalNote:
    """Add an operator's note to a dispute (operators and platform owners only)."""
    if not isinstance(actor, User) or not actor.is_active or not actor.is_operator:
        raise NotFound("dispute")
    try:
        dispute = Dispute.objects.get(pk=dispute_id)
    except Dispute.DoesNotExist:
        raise NotFound("dispute") from None
    text = (body or "").strip()
    problems = []
    if not text:
        problems.append(Problem("is required", field="body"))
    elif len(text) > MAX_BODY:
        problems.append(Problem(f"must be at most {MAX_BODY} characters", field="body"))
    if problems:
        raise DomainError("invalid_note", "the note was not added", problems)
    note = InternalNote.objects.create(dispute=dispute, author=actor, body=text)
    audit.record(
        actor=actor,
        action=AuditAction.INTERNAL_NOTE_ADDED,
        obj=note,
        client_id=dispute.client_id,
        after={
            "dispute_id": dispute.pk,
            "length": len(text),
            "body_sha256": hashlib.sha256(text.encode()).hexdigest(),
        },
    )
    return note
