"""The dispute desk's writes: taking a dispute or giving it back, a reply, an internal note,
a resolution."""

import uuid
from collections.abc import Sequence

from django.db import transaction

from tally.accounts.models import User
from tally.actions.disputes import resolve_dispute
from tally.clients.models import Client
from tally.disputes.attachments import Upload
from tally.disputes.models import Dispute, DisputeMessage
from tally.disputes.services import post_dispute_message, release_dispute, take_dispute
from tally.errors import NotFound
from tally.internal_notes.models import InternalNote
from tally.internal_notes.services import add_internal_note

from .submissions import claim


def _client_of(dispute_id: int) -> Client:
    client_id = Dispute.objects.filter(pk=dispute_id).values_list("client_id", flat=True).first()
    if client_id is None:
        raise NotFound("dispute")
    return Client.objects.get(pk=client_id)


@transaction.atomic
def take(*, actor: User, dispute_id: int, from_owner_id: int | None, key: uuid.UUID) -> Dispute:
    """Take the dispute (unowned, or over from `from_owner_id`, the owner the page showed)."""
    claim(actor, key)
    return take_dispute(
        actor=actor,
        client=_client_of(dispute_id),
        dispute_id=dispute_id,
        from_owner_id=from_owner_id,
    )


@transaction.atomic
def give_back(*, actor: User, dispute_id: int, key: uuid.UUID) -> Dispute:
    """Give the dispute back: unowned, for anyone to take."""
    claim(actor, key)
    return release_dispute(actor=actor, client=_client_of(dispute_id), dispute_id=dispute_id)


@transaction.atomic
def reply_to_dispute(
    *,
    actor: User,
    dispute_id: int,
    body: str,
    key: uuid.UUID,
    attachments: Sequence[Upload] = (),
) -> DisputeMessage:
    """Post the operator's client-visible reply, and its files, in the conversation."""
    claim(actor, key)
    return post_dispute_message(
        actor=actor,
        client=_client_of(dispute_id),
        dispute_id=dispute_id,
        body=body,
        attachments=attachments,
    )


@transaction.atomic
def note_on_dispute(*, actor: User, dispute_id: int, body: str, key: uuid.UUID) -> InternalNote:
    """Add an internal note, never shown to the client."""
    claim(actor, key)
    return add_internal_note(actor=actor, dispute_id=dispute_id, body=body)


@transaction.atomic
def settle_dispute(
    *,
    actor: User,
    dispute_id: int,
    resolution: str,
    summary: str,
    credit_amount_minor: int | None,
    credit_reason: str | None,
    key: uuid.UUID,
) -> Dispute:
    """Resolve the dispute (credited, charge upheld, withdrawn) with the client's summary."""
    claim(actor, key)
    return resolve_dispute(
        actor=actor,
        client=_client_of(dispute_id),
        dispute_id=dispute_id,
        resolution=resolution,
        summary=summary,
        credit_amount_minor=credit_amount_minor,
        credit_reason=credit_reason,
    )
