"""Payments' writes from the console: record a payment, correct where it went, refund
unapplied credit; each once per submitted form."""

import hashlib
import uuid
from collections.abc import Sequence
from datetime import date

from django.db import transaction

from tally.accounts.models import User
from tally.actions.payments import (
    apply_unapplied_credit,
    reallocate_payment,
    record_payment,
    refund_credit,
)
from tally.clients.models import Client
from tally.errors import NotFound
from tally.payments.models import Payment, Refund
from tally.payments.services import PaymentResult, match_remittance

from .submissions import claim


def client(client_id: int) -> Client:
    try:
        return Client.objects.get(pk=client_id)
    except Client.DoesNotExist:
        raise NotFound("client") from None


def client_of_payment(payment_id: int) -> Client:
    client_id = Payment.objects.filter(pk=payment_id).values_list("client_id", flat=True).first()
    if client_id is None:
        raise NotFound("payment")
    return Client.objects.get(pk=client_id)


def payment_key(
    *,
    client_id: int,
    amount_minor: int,
    currency: str,
    received_on: date,
    reference: str,
    form_key: uuid.UUID,
) -> str:
    """The payment's idempotency key. A remittance with a reference is the same payment
    whoever enters it: two operators recording it at once, or one from two tabs, record it
    once. Without a reference nothing tells two equal payments apart, and the form's key
    stands in."""
    ref = " ".join(reference.split()).casefold()
    if not ref:
        return f"console:form:{form_key}"
    material = f"{client_id}|{amount_minor}|{currency}|{received_on.isoformat()}|{ref}"
    return "console:ref:" + hashlib.sha256(material.encode()).hexdigest()


@transaction.atomic
def record_received_payment(
    *,
    actor: User,
    client_id: int,
    amount_minor: int,
    currency: str,
    received_on: date,
    method: str,
    reference: str,
    payer: str,
    allocations: list[tuple[int, int]],
    key: uuid.UUID,
    advice_ids: Sequence[int] = (),
) -> PaymentResult:
    """Record money received with the allocation the operator settled on; what is not
    allocated is the client's unapplied credit. The client's remittance advice the
    operator says it answers (`advice_ids`: the advice it was started from, those ticked)
    is closed as matched to it and leaves the queue; the client sees it done. A payment
    recorded again (the same reference: two operators, two tabs) answers them too."""
    claim(actor, key)
    result = record_payment(
        actor=actor,
        client=client(client_id),
        amount_minor=amount_minor,
        currency=currency,
        received_on=received_on,
        method=method,
        idempotency_key=payment_key(
            client_id=client_id,
            amount_minor=amount_minor,
            currency=currency,
            received_on=received_on,
            reference=reference,
            form_key=key,
        ),
        reference=reference.strip(),
        payer=payer.strip(),
        allocations=allocations,
        auto_allocate=False,
    )
    owner = client(client_id)
    for advice_id in sorted(set(advice_ids)):  # locked in one order everywhere
        match_remittance(actor=actor, client=owner, notice_id=advice_id, payment=result.payment)
    return result


@transaction.atomic
def correct_allocation(
    *,
    actor: User,
    payment_id: int,
    releases: list[tuple[int, int]],
    allocations: list[tuple[int, int]],
    key: uuid.UUID,
) -> Payment:
    """Take a payment back from invoices and put it on others; with nothing taken back,
    apply its unapplied credit."""
    claim(actor, key)
    owner = client_of_payment(payment_id)
    if not releases:
        return apply_unapplied_credit(
            actor=actor, client=owner, payment_id=payment_id, allocations=allocations
        )
    return reallocate_payment(
        actor=actor,
        client=owner,
        payment_id=payment_id,
        releases=releases,
        allocations=allocations or None,
    )


@transaction.atomic
def refund_payment_credit(
    *,
    actor: User,
    payment_id: int,
    amount_minor: int,
    refunded_on: date,
    method: str,
    reference: str,
    key: uuid.UUID,
) -> Refund:
    """Pay unapplied credit back to the client."""
    claim(actor, key)
    return refund_credit(
        actor=actor,
        client=client_of_payment(payment_id),
        payment_id=payment_id,
        amount_minor=amount_minor,
        refunded_on=refunded_on,
        method=method,
        reference=reference.strip(),
    )
