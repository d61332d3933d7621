"""Resolving a dispute: a credited resolution credits the invoice, which may pay it."""

from django.db import transaction

from tally.accounts.models import User
from tally.clients.models import Client
from tally.disputes import services as disputes
from tally.disputes.models import Dispute, Resolution

from .invoices import create_credit_note


@transaction.atomic
def resolve_dispute(
    *,
    actor: User,
    client: Client,
    dispute_id: int,
    resolution: str,
    summary: str,
    credit_amount_minor: int | None = None,
    credit_reason: str | None = None,
) -> Dispute:
    """Settle an open dispute (operators only) with a summary the client will read.

    `credited` issues a credit note on the invoice — its reason is `credit_reason`, or the
    summary — and links it to the dispute; the credit cannot exceed the invoice's balance.
    """
    dispute = disputes.check_resolution(
        actor=actor,
        client=client,
        dispute_id=dispute_id,
        resolution=resolution,
        summary=summary,
        credit_amount_minor=credit_amount_minor,
        credit_reason=credit_reason,
    )
    note = None
    if resolution == Resolution.CREDITED:
        assert credit_amount_minor is not None
        # Refusals (invoice not open, credit above the balance) roll everything back.
        note = create_credit_note(
            actor=actor,
            client=client,
            invoice_id=dispute.invoice_id,
            amount_minor=credit_amount_minor,
            reason=(credit_reason or "").strip() or summary.strip(),
        )
    return disputes.close_resolved(
        actor=actor,
        dispute=dispute,
        resolution=resolution,
        summary=summary,
        credit_note=note,
        credit_amount_minor=credit_amount_minor,
    )
