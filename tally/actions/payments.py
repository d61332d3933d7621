"""Recording, allocating and taking back payments: an invoice a payment pays stops its
reminders; one that owes again is open (or overdue) again, and its reminders still to
come are scheduled again."""

from datetime import date

from django.db import transaction

from tally.audit.actors import Actor
from tally.clients.models import Client
from tally.errors import DomainError, Problem
from tally.invoicing import services as invoicing
from tally.invoicing.models import Invoice
from tally.payments import services as payments
from tally.payments.models import ClientNotice, NoticeKind, NoticeStatus, Payment, Refund
from tally.payments.services import PaymentResult
from tally.reminders.services import resume_reminders

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


@transaction.atomic
def apply_credit_on_request(*, actor: Actor, client: Client, notice_id: int) -> ClientNotice:
    """Do what a client's credit request asks: its unapplied credit, from the oldest
    payment that has some, onto each invoice it named (`apply_unapplied_credit`, payment
    by payment); then the request is done. An invoice that no longer owes what was asked
    is refused as `apply_unapplied_credit` refuses it, and nothing is applied."""
    notice = payments.lock_waiting_notice(client, notice_id, NoticeKind.CREDIT_REQUEST)
    wanted = list(notice.invoices.order_by("id").values_list("invoice_id", "amount_minor"))
    # Every payment with credit locked first, in id order (payments before invoices,
    # as everywhere money moves), then used oldest first.
    locked = Payment.objects.select_for_update().filter(client=client, unapplied_minor__gt=0)
    credit = [
        (p.pk, p.unapplied_minor)
        for p in sorted(locked.order_by("pk"), key=lambda p: (p.received_on, p.pk))
    ]
    plan: dict[int, list[tuple[int, int]]] = {}
    for invoice_id, amount in wanted:
        left = amount or 0
        for i, (payment_id, unapplied) in enumerate(credit):
            if not left:
                break
            take = min(left, unapplied)
            if take:
                plan.setdefault(payment_id, []).append((invoice_id, take))
                credit[i] = (payment_id, unapplied - take)
                left -= take
        if left:
            raise DomainError(
                "credit_used",
                "the credit was not applied",
                [Problem("the client's unapplied credit no longer covers this request")],
            )
    for payment_id in sorted(plan):  # payments locked in one order everywhere
        apply_unapplied_credit(
            actor=actor, client=client, payment_id=payment_id, allocations=plan[payment_id]
        )
    return payments.close_notice(actor=actor, notice=notice, status=NoticeStatus.DONE)


def resume_reminders_once_owing(invoice: Invoice, actor: Actor) -> None:
    """After money was taken back from a paid invoice: it is open again, and the reminder
    steps still to come will be sent (`reminders.resume_reminders`)."""
    if invoicing.reopen_if_owing(invoice, actor):
        resume_reminders(invoice, actor, invoicing.client_today(invoice.client))


@transaction.atomic
def reallocate_payment(
    *,
    actor: Actor,
    client: Client,
    payment_id: int,
    releases: list[tuple[int, int]],
    allocations: list[tuple[int, int]] | None = None,
) -> Payment:
    """Correct a misapplied payment: take `releases` [(invoice_id, amount_minor)] back from
    the invoices it was put on, then put `allocations` on others (none: it stays as
    unapplied credit). One transaction; the payment is locked first, then the invoices,
    so two operators correcting one payment at once take turns and the second is checked
    against what the first left."""
    payment = payments.lock_payment(client, payment_id)
    for invoice, amount in payments.plan_release(payment, releases):
        payments.release(
            actor=actor, payment=payment, invoice=invoice, amount_minor=amount, why="misapplied"
        )
        resume_reminders_once_owing(invoice, actor)
    if allocations:
        _allocate(actor, payment, allocations)
    payment.refresh_from_db()
    return payment


def refund_credit(
    *,
    actor: Actor,
    client: Client,
    payment_id: int,
    amount_minor: int,
    refunded_on: date,
    method: str,
    reference: str = "",
) -> Refund:
    """Pay unapplied credit back to the client (`payments.refund_credit`)."""
    return payments.refund_credit(
        actor=actor,
        client=client,
        payment_id=payment_id,
        amount_minor=amount_minor,
        refunded_on=refunded_on,
        method=method,
        reference=reference,
    )
