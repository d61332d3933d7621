"""Recording and allocating payments: an invoice a payment pays stops its reminders."""

from datetime import date

from django.db import transaction

from tally.audit.actors import Actor
from tally.clients.models import Client
from tally.payments import services as payments
from tally.payments.models import Payment
from tally.payments.services import PaymentResult

from .invoices import stop_reminders_once_paid


def _allocate(actor: Actor, payment: Payment, allocations: list[tuple[int, int]] | None) -> None:
    """Each allocation, then the reminders of the invoice it paid, before the next."""
    for invoice, amount in payments.plan_allocations(payment, allocations):
        payments.allocate(actor=actor, payment=payment, invoice=invoice, amount_minor=amount)
        stop_reminders_once_paid(invoice, actor)


def record_payment(
    *,
    actor: Actor,
    client: Client,
    amount_minor: int,
    currency: str,
    received_on: date,
    method: str,
    idempotency_key: str,
    reference: str = "",
    payer: str = "",
    allocations: list[tuple[int, int]] | None = None,
    auto_allocate: bool = True,
) -> PaymentResult:
    """Record money received. `allocations` is [(invoice_id, amount_minor)], or None for
    oldest-invoice-first when `auto_allocate`. What is not allocated stays as unapplied credit."""
    with transaction.atomic():
        result = payments.receive_payment(
            actor=actor,
            client=client,
            amount_minor=amount_minor,
            currency=currency,
            received_on=received_on,
            method=method,
            idempotency_key=idempotency_key,
            reference=reference,
            payer=payer,
            allocations=allocations,
            auto_allocate=auto_allocate,
        )
        if result.replayed:
            return result
        if allocations is not None or auto_allocate:
            _allocate(actor, result.payment, allocations)
        result.payment.refresh_from_db()
        return result


@transaction.atomic
def apply_unapplied_credit(
    *,
    actor: Actor,
    client: Client,
    payment_id: int,
    allocations: list[tuple[int, int]] | None = None,
) -> Payment:
    """Allocate what is left of an earlier payment (explicitly, or oldest invoice first)."""
    payment = payments.lock_payment(client, payment_id)
    _allocate(actor, payment, allocations)
    payment.refresh_from_db()
    return payment
