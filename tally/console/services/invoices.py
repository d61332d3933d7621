"""An invoice's writes from its page: void, void and regenerate, credit note."""

import uuid

from django.db import transaction

from tally.accounts.models import User
from tally.actions.invoices import (
    create_credit_note,
    credit_invoice_lines,
    void_and_regenerate,
    void_invoice,
)
from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import CreditNote, Invoice

from .submissions import claim


def _client_of(invoice_id: int) -> Client:
    client_id = Invoice.objects.filter(pk=invoice_id).values_list("client_id", flat=True).first()
    if client_id is None:
        raise NotFound("invoice")
    return Client.objects.get(pk=client_id)


@transaction.atomic
def void(*, actor: User, invoice_id: int, reason: str, key: uuid.UUID) -> Invoice:
    """Void the invoice for `reason`; its events are free to bill again."""
    claim(actor, key)
    return void_invoice(
        actor=actor, client=_client_of(invoice_id), invoice_id=invoice_id, reason=reason
    )


@transaction.atomic
def void_and_replace(*, actor: User, invoice_id: int, reason: str, key: uuid.UUID) -> Invoice:
    """Void the invoice and generate the draft that replaces it; returns the draft."""
    claim(actor, key)
    return void_and_regenerate(
        actor=actor, client=_client_of(invoice_id), invoice_id=invoice_id, reason=reason
    )


@transaction.atomic
def credit(
    *,
    actor: User,
    invoice_id: int,
    amount_minor: int | None,
    lines: list[tuple[int, int]],
    reason: str,
    key: uuid.UUID,
) -> CreditNote:
    """A credit note for an amount, or for chosen lines (each whole or in part)."""
    claim(actor, key)
    client = _client_of(invoice_id)
    if lines:
        return credit_invoice_lines(
            actor=actor, client=client, invoice_id=invoice_id, lines=lines, reason=reason
        )
    return create_credit_note(
        actor=actor,
        client=client,
        invoice_id=invoice_id,
        amount_minor=amount_minor or 0,
        reason=reason,
    )
