"""Reviewing drafts: adjust, issue (one or several), delete."""

import uuid
from dataclasses import dataclass

from django.db import transaction

from tally.accounts.models import User
from tally.actions.invoices import issue_invoice, void_invoice
from tally.clients.models import Client
from tally.errors import DomainError, NotFound
from tally.invoicing import services as invoicing
from tally.invoicing.emails import request_invoice_email
from tally.invoicing.models import Invoice, InvoiceLine, InvoiceStatus

from .submissions import claim


def client_of(invoice_id: int) -> Client:
    client_id = Invoice.objects.filter(pk=invoice_id).values_list("client_id", flat=True).first()
    if client_id is None:
        raise NotFound("invoice")
    return Client.objects.get(pk=client_id)


@transaction.atomic
def adjust_draft(
    *,
    actor: User,
    invoice_id: int,
    description: str,
    amount_minor: int,
    reason: str,
    key: uuid.UUID,
) -> InvoiceLine:
    """A manual charge (positive) or discount (negative) on a draft, with its reason."""
    claim(actor, key)
    return invoicing.add_adjustment(
        actor=actor,
        client=client_of(invoice_id),
        invoice_id=invoice_id,
        description=description,
        amount_minor=amount_minor,
        reason=reason,
    )


@transaction.atomic
def remove_draft_adjustment(*, actor: User, invoice_id: int, line_id: int, key: uuid.UUID) -> None:
    claim(actor, key)
    invoicing.remove_adjustment(
        actor=actor, client=client_of(invoice_id), invoice_id=invoice_id, line_id=line_id
    )


def _issue(actor: User, invoice_id: int) -> Invoice:
    """Issue one draft and ask the worker, in the same transaction, to email it to the
    client's billing contacts: an issue that rolls back sends nothing. A draft with
    nothing on it is refused (a client would get an invoice of nothing, numbered for ever).
    """
    client = client_of(invoice_id)
    draft = invoicing.lock_invoice(client, invoice_id)
    if draft.status == InvoiceStatus.DRAFT and not draft.lines.exists():
        raise DomainError("draft_empty", "the draft has no lines: delete it instead")
    invoice = issue_invoice(actor=actor, client=client, invoice_id=invoice_id)
    request_invoice_email(actor=actor, client=client, invoice_id=invoice_id)
    return invoice


@transaction.atomic
def issue_draft(*, actor: User, invoice_id: int, key: uuid.UUID) -> Invoice:
    """Number and issue a draft: from now its client sees it."""
    claim(actor, key)
    return _issue(actor, invoice_id)


@dataclass(frozen=True)
class Issued:
    invoice_id: int
    invoice: Invoice | None  # None: refused
    error: DomainError | None


def issue_drafts(*, actor: User, invoice_ids: list[int], key: uuid.UUID) -> list[Issued]:
    """Issue several drafts, each in a transaction of its own: one refused (issued by
    someone else meanwhile, empty) leaves the others issued, and the number sequence is
    locked for one draft at a time, not for the whole batch.

    The form's key is claimed first, on its own: a second submission of the same form
    finds it taken while the first is still issuing. Drafts go in id order, as every
    issuer locks them, so two overlapping batches never wait on each other in a circle.
    """
    with transaction.atomic():
        claim(actor, key)
    results = []
    for invoice_id in sorted(set(invoice_ids)):
        try:
            with transaction.atomic():
                results.append(Issued(invoice_id, _issue(actor, invoice_id), None))
        except DomainError as e:  # NotFound included: deleted meanwhile
            results.append(Issued(invoice_id, None, e))
    return results


@transaction.atomic
def delete_draft(*, actor: User, invoice_id: int, reason: str, key: uuid.UUID) -> Invoice:
    """Void a draft before it is issued. It stays as the record of what it billed; its
    billed ranges no longer count, so the next billing run bills its events again."""
    claim(actor, key)
    client = client_of(invoice_id)
    draft = invoicing.lock_invoice(client, invoice_id)
    if draft.status != InvoiceStatus.DRAFT:
        raise DomainError("invoice_not_draft", f"invoice is {draft.status}, not a draft")
    return void_invoice(actor=actor, client=client, invoice_id=invoice_id, reason=reason)
