"""Recording payments and allocating them to invoices.

Allocating a payment may pay an invoice, which stops its reminders: the whole of
recording and allocating is `tally.actions.payments`, which calls these.

Idempotent as Stripe promises it: the key is claimed by the insert of the payment itself
(a unique constraint), in the same transaction as the allocation; a retry returns the
first payment, and the same key with a different body is refused. Allocation locks each
invoice row and re-reads its balance, and the database refuses any over-allocation.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from tally.accounts.models import User
from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.audit.services import canonical_json
from tally.clients.models import Client
from tally.errors import DomainError, NotFound, Problem
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.invoicing.services import mark_paid_if_settled, snapshot
from tally.money import MoneyError, check_currency, format_money

from .models import (
    Allocation,
    ClientNotice,
    ClientNoticeInvoice,
    NoticeKind,
    NoticeStatus,
    Payment,
    PaymentMethod,
    Refund,
)


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    replayed: bool  # True when this was a retry of an earlier request


def _payment_snapshot(p: Payment) -> dict[str, Any]:
    return {
        "amount_minor": p.amount_minor,
        "allocated_minor": p.allocated_minor,
        "refunded_minor": p.refunded_minor,
        "currency": p.currency,
        "method": p.method,
        "reference": p.reference,
        "received_on": p.received_on,
        "payer": p.payer,
    }


def allocate(*, actor: Actor, payment: Payment, invoice: Invoice, amount_minor: int) -> bool:
    """Put part of a payment on a locked invoice; whether that paid the invoice (the
    caller then stops its reminders: `tally.actions.payments`)."""
    before = snapshot(invoice)
    allocation, created = Allocation.objects.get_or_create(
        payment=payment,
        invoice=invoice,
        defaults={"client_id": payment.client_id, "amount_minor": amount_minor},
    )
    if not created:
        allocation.amount_minor += amount_minor
        allocation.save(update_fields=["amount_minor"])
    invoice.allocated_minor += amount_minor
    invoice.save(update_fields=["allocated_minor"])
    payment.allocated_minor += amount_minor
    payment.save(update_fields=["allocated_minor"])
    audit.record(
        actor=actor,
        action=AuditAction.PAYMENT_ALLOCATED,
        obj=invoice,
        before=before,
        after={**snapshot(invoice), "payment_id": payment.pk, "amount_minor": amount_minor},
    )
    return mark_paid_if_settled(invoice, actor)


def plan_allocations(
    payment: Payment, allocations: list[tuple[int, int]] | None
) -> list[tuple[Invoice, int]]:
    """Lock and check the invoices a payment goes to, and how much each gets, in the order
    to allocate: `allocations` as given, or None for oldest invoice first. Writes nothing;
    a refusal names every problem."""
    client_id = payment.client_id
    if allocations is None:
        # Oldest first: by due date, then number. Lock them in that order.
        invoices = list(
            Invoice.objects.select_for_update()
            .filter(client_id=client_id, status=InvoiceStatus.OPEN)
            .order_by("due_date", "number")
        )
        plan = []
        remaining = payment.unapplied_minor
        for invoice in invoices:
            if remaining == 0:
                break
            take = min(invoice.balance_minor, remaining)
            if take > 0:
                plan.append((invoice, take))
                remaining -= take
        return plan

    problems = []
    wanted: dict[int, int] = {}
    for n, (invoice_id, amount) in enumerate(allocations, start=1):
        if amount <= 0:
            problems.append(Problem("must be positive", field="amount", row=n))
        wanted[invoice_id] = wanted.get(invoice_id, 0) + amount
    if sum(wanted.values()) > payment.unapplied_minor:
        problems.append(
            Problem(
                f"allocations add up to more than the {payment.unapplied_minor} "
                "minor units available",
                field="allocations",
            )
        )
    if problems:
        raise DomainError("invalid_allocation", "nothing was allocated", problems)
    locked = {
        inv.pk: inv
        for inv in Invoice.objects.select_for_update()
        .filter(client_id=client_id, pk__in=wanted)
        .order_by("pk")
    }
    for n, (invoice_id, amount) in enumerate(wanted.items(), start=1):
        if invoice_id not in locked:
            raise NotFound("invoice")
        invoice = locked[invoice_id]
        if invoice.status != InvoiceStatus.OPEN:
            problems.append(
                Problem(f"{invoice.display_number} is {invoice.status}", field="invoice", row=n)
            )
        elif amount > invoice.balance_minor:
            problems.append(
                Problem(
                    f"{amount} is more than the balance of {invoice.display_number} "
                    f"({invoice.balance_minor})",
                    field="amount",
                    row=n,
                )
            )
    if problems:
        raise DomainError("invalid_allocation", "nothing was allocated", problems)
    return [(locked[invoice_id], amount) for invoice_id, amount in wanted.items()]


def receive_payment(
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
    """Record money received, once per idempotency key; allocating it is the caller's
    (`tally.actions.payments.record_payment`). `allocations` and `auto_allocate` are part
    of the request a retry must repeat."""
    problems = []
    if amount_minor <= 0:
        problems.append(Problem("must be positive", field="amount"))
    if currency.upper() != client.currency:
        problems.append(
            Problem(
                f"{currency.upper()} does not match the client's currency {client.currency}",
                field="currency",
            )
        )
    if method not in PaymentMethod.values:
        problems.append(
            Problem(
                f"unknown method {method!r}; expected one of {', '.join(PaymentMethod.values)}",
                field="method",
            )
        )
    if not idempotency_key or len(idempotency_key) > 200:
        problems.append(Problem("must be 1 to 200 characters", field="idempotency_key"))
    if problems:
        raise DomainError("invalid_payment", "the payment was not recorded", problems)

    body = {
        "amount_minor": amount_minor,
        "currency": currency.upper(),
        "received_on": received_on,
        "method": method,
        "reference": reference,
        "payer": payer,
        "allocations": allocations,
        "auto_allocate": auto_allocate,
    }
    request_hash = hashlib.sha256(canonical_json(body).encode()).hexdigest()
    with transaction.atomic():
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    client=client,
                    amount_minor=amount_minor,
                    currency=currency.upper(),
                    received_on=received_on,
                    method=method,
                    reference=reference,
                    payer=payer,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    recorded_by=actor if isinstance(actor, User) else None,
                )
        except IntegrityError:
            existing = Payment.objects.get(client=client, idempotency_key=idempotency_key)
            if existing.request_hash != request_hash:
                raise DomainError(
                    "idempotency_key_reused",
                    "this idempotency key was used for a different payment",
                    [Problem("was used before with other details", field="idempotency_key")],
                ) from None
            return PaymentResult(existing, replayed=True)
        payment.refresh_from_db()
        audit.record(
            actor=actor,
            action=AuditAction.PAYMENT_RECORDED,
            obj=payment,
            after=_payment_snapshot(payment),
        )
        return PaymentResult(payment, replayed=False)


def apply_credit_to_issued_invoice(*, actor: Actor, invoice: Invoice) -> int:
    """The client's unapplied credit pays a newly issued invoice, oldest credit first; what
    was applied, in minor units. Called by `tally.actions.invoices.issue_invoice`, inside
    its transaction, which then stops the reminders of an invoice this paid.

    A payment that another transaction holds (being recorded or allocated) is passed over
    rather than waited for: issuing never deadlocks with an allocation that locks the
    payment first, and that payment's credit is still there for the next invoice.
    """
    payments = (
        Payment.objects.select_for_update(skip_locked=True)
        .filter(client_id=invoice.client_id, currency=invoice.currency, unapplied_minor__gt=0)
        .order_by("received_on", "pk")
    )
    applied = 0
    for payment in payments:
        owed = invoice.total_minor - invoice.allocated_minor - invoice.credited_minor
        if owed <= 0:
            break
        take = min(owed, payment.unapplied_minor)
        allocate(actor=actor, payment=payment, invoice=invoice, amount_minor=take)
        applied += take
    return applied


def lock_payment(client: Client, payment_id: int) -> Payment:
    """The client's payment, locked; another client's is NotFound."""
    try:
        return Payment.objects.select_for_update().get(pk=payment_id, client=client)
    except Payment.DoesNotExist:
        raise NotFound("payment") from None


def plan_release(payment: Payment, releases: list[tuple[int, int]]) -> list[tuple[Invoice, int]]:
    """Lock and check the invoices a (locked) payment is to be taken back from, and how
    much from each: [(invoice_id, amount_minor)], at most what the payment put on each.
    Writes nothing; a refusal names every problem."""
    problems = []
    wanted: dict[int, int] = {}
    for n, (invoice_id, amount) in enumerate(releases, start=1):
        if amount <= 0:
            problems.append(Problem("must be positive", field="amount", row=n))
        wanted[invoice_id] = wanted.get(invoice_id, 0) + amount
    if not wanted:
        problems.append(Problem("name at least one invoice to take it back from", field="invoice"))
    if problems:
        raise DomainError("invalid_unallocation", "nothing was taken back", problems)
    locked = {
        inv.pk: inv
        for inv in Invoice.objects.select_for_update()
        .filter(client_id=payment.client_id, pk__in=wanted)
        .order_by("pk")
    }
    on = dict(
        Allocation.objects.filter(payment=payment, invoice_id__in=wanted).values_list(
            "invoice_id", "amount_minor"
        )
    )
    for n, (invoice_id, amount) in enumerate(wanted.items(), start=1):
        if invoice_id not in locked:
            raise NotFound("invoice")
        invoice = locked[invoice_id]
        if amount > on.get(invoice_id, 0):
            problems.append(
                Problem(
                    f"{amount} is more than this payment put on {invoice.display_number} "
                    f"({on.get(invoice_id, 0)})",
                    field="amount",
                    row=n,
                )
            )
    if problems:
        raise DomainError("invalid_unallocation", "nothing was taken back", problems)
    return [(locked[invoice_id], amount) for invoice_id, amount in wanted.items()]


def release(
    *, actor: Actor, payment: Payment, invoice: Invoice, amount_minor: int, why: str
) -> None:
    """Take part of a payment back from a locked invoice (the payment locked too): the
    money is the payment's unapplied credit again. Whether the invoice owes again is the
    caller's (`tally.actions.payments`)."""
    allocation = Allocation.objects.select_for_update().get(payment=payment, invoice=invoice)
    if not 0 < amount_minor <= allocation.amount_minor:
        raise DomainError(
            "invalid_unallocation",
            f"{amount_minor} cannot be taken back from an allocation of {allocation.amount_minor}",
            [Problem("is more than was allocated", field="amount")],
        )
    before = snapshot(invoice)
    if amount_minor == allocation.amount_minor:
        allocation.delete()
    else:
        allocation.amount_minor -= amount_minor
        allocation.save(update_fields=["amount_minor"])
    invoice.allocated_minor -= amount_minor
    invoice.save(update_fields=["allocated_minor"])
    payment.allocated_minor -= amount_minor
    payment.save(update_fields=["allocated_minor"])
    payment.refresh_from_db(fields=["unapplied_minor"])
    audit.record(
        actor=actor,
        action=AuditAction.PAYMENT_UNALLOCATED,
        obj=invoice,
        before=before,
        after={
            **snapshot(invoice),
            "payment_id": payment.pk,
            "amount_minor": amount_minor,
            "why": why,
        },
    )


def lock_payments_on(invoice_id: int) -> list[Payment]:
    """The payments allocated to an invoice, locked in id order: lock them before the
    invoice, as every allocation does (payment, then invoice), so that a credit and a
    re-allocation of one payment never wait for each other in a circle."""
    return list(
        Payment.objects.select_for_update()
        .filter(pk__in=Allocation.objects.filter(invoice_id=invoice_id).values("payment_id"))
        .order_by("pk")
    )


def release_for_credit(*, actor: Actor, invoice: Invoice, amount_minor: int) -> int:
    """Make room on a locked invoice for a credit larger than what it still owes: take the
    difference back from its payments, the latest allocation first, so that the client's
    money becomes unapplied credit on its account (to pay the next invoice, or be
    refunded). What was taken back, in minor units."""
    excess = amount_minor - invoice.balance_minor
    if excess <= 0:
        return 0
    payments = {p.pk: p for p in lock_payments_on(invoice.pk)}
    taken = 0
    for allocation in Allocation.objects.filter(invoice=invoice).order_by("-created_at", "-pk"):
        if taken == excess:
            break
        take = min(allocation.amount_minor, excess - taken)
        release(
            actor=actor,
            payment=payments[allocation.payment_id],
            invoice=invoice,
            amount_minor=take,
            why="credited after payment",
        )
        taken += take
    return taken


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
    """Pay back part of a payment's unapplied credit to the client: recorded as a refund,
    it no longer pays any invoice."""
    with transaction.atomic():
        payment = lock_payment(client, payment_id)
        problems = []
        if amount_minor <= 0:
            problems.append(Problem("must be positive", field="amount"))
        elif amount_minor > payment.unapplied_minor:
            problems.append(
                Problem(
                    f"must be at most the payment's unapplied credit ({payment.unapplied_minor})",
                    field="amount",
                )
            )
        if method not in PaymentMethod.values:
            problems.append(Problem(f"unknown method {method!r}", field="method"))
        if len(reference) > 200:
            problems.append(Problem("must be at most 200 characters", field="reference"))
        if problems:
            raise DomainError("invalid_refund", "nothing was refunded", problems)
        before = _payment_snapshot(payment)
        refund = Refund.objects.create(
            client=client,
            payment=payment,
            amount_minor=amount_minor,
            currency=payment.currency,
            refunded_on=refunded_on,
            method=method,
            reference=reference,
            recorded_by=actor if isinstance(actor, User) else None,
        )
        payment.refunded_minor += amount_minor
        payment.save(update_fields=["refunded_minor"])
        payment.refresh_from_db()
        audit.record(
            actor=actor,
            action=AuditAction.PAYMENT_REFUNDED,
            obj=payment,
            before=before,
            after={
                **_payment_snapshot(payment),
                "refund_id": refund.pk,
                "refund_minor": amount_minor,
                "refunded_on": refunded_on,
                "refund_method": method,
                "refund_reference": reference,
            },
        )
        return refund


# ---------------------------------------------------------------------------------------
# What a client tells the 3PL about money (ClientNotice): written here, once per portal
# form (its key), acted on in the console (apply the credit: `tally.actions.payments`;
# record the payment reported; or decline, saying why).


@dataclass(frozen=True)
class NoticeResult:
    notice: ClientNotice
    replayed: bool  # the same form sent again: the first notice


def _notice_snapshot(n: ClientNotice) -> dict[str, Any]:
    return {
        "kind": n.kind,
        "status": n.status,
        "currency": n.currency,
        "amount_minor": n.amount_minor,
        "paid_on": n.paid_on,
        "method": n.method,
        "reference": n.reference,
        "answer": n.answer,
        "payment_id": n.payment_id,
        "invoices": sorted([i, a] for i, a in n.invoices.values_list("invoice_id", "amount_minor")),
    }


def _open_invoices_named(
    client: Client, invoice_ids: list[int], field: str
) -> tuple[dict[int, Invoice], list[Problem]]:
    """The client's invoices named; one that is not the client's is not found (the same
    words as one that does not exist), one not open cannot be named. Not locked: a notice
    changes no invoice, and the operator's answer checks them again."""
    found = {
        inv.pk: inv
        for inv in Invoice.objects.filter(client=client, pk__in=invoice_ids, number__isnull=False)
    }
    problems = []
    for row, invoice_id in enumerate(invoice_ids):
        invoice = found.get(invoice_id)
        if invoice is None:
            problems.append(Problem("no such invoice", field=field, row=row))
        elif invoice.status != InvoiceStatus.OPEN or invoice.balance_minor <= 0:
            problems.append(
                Problem(
                    f"{invoice.display_number} is not open: it owes nothing", field=field, row=row
                )
            )
    if len(set(invoice_ids)) != len(invoice_ids):
        problems.append(Problem("names an invoice twice", field=field))
    return found, problems


def _create_notice(
    *,
    actor: Actor,
    client: Client,
    key: uuid.UUID,
    action: AuditAction,
    invoices: list[tuple[int, int | None]],
    **fields: Any,
) -> NoticeResult:
    """The notice and its invoices, claimed by the form's key: the same key again returns
    the first notice (a double submit records one)."""
    if not isinstance(actor, User):
        raise TypeError("a client notice is written by the client's user")
    try:
        with transaction.atomic():
            notice = ClientNotice.objects.create(client=client, key=key, created_by=actor, **fields)
    except IntegrityError:
        return NoticeResult(ClientNotice.objects.get(client=client, key=key), replayed=True)
    ClientNoticeInvoice.objects.bulk_create(
        ClientNoticeInvoice(client=client, notice=notice, invoice_id=i, amount_minor=a)
        for i, a in invoices
    )
    audit.record(actor=actor, action=action, obj=notice, after=_notice_snapshot(notice))
    return NoticeResult(notice, replayed=False)


def available_credit(client: Client) -> int:
    """The client's unapplied credit not yet asked for in a request still waiting."""
    credit = Payment.objects.filter(client=client, unapplied_minor__gt=0).aggregate(
        s=Sum("unapplied_minor")
    )["s"]
    asked = ClientNotice.objects.filter(
        client=client, kind=NoticeKind.CREDIT_REQUEST, status=NoticeStatus.WAITING
    ).aggregate(s=Sum("amount_minor"))["s"]
    return (credit or 0) - (asked or 0)


@transaction.atomic
def ask_to_apply_credit(
    *, actor: Actor, client: Client, lines: list[tuple[int, int]], key: uuid.UUID
) -> NoticeResult:
    """The client asks that its unapplied credit pay these open invoices of its own
    [(invoice_id, amount_minor)]: each amount at most what the invoice owes, all of them
    at most the credit not yet asked for."""
    # The client's row first: two requests at once are checked one after the other (and
    # the second of one form sent twice finds the first).
    # NO KEY: a notice's insert elsewhere (its foreign key) does not wait on it.
    Client.objects.select_for_update(no_key=True).filter(pk=client.pk).first()
    if ClientNotice.objects.filter(client=client, key=key).exists():
        return NoticeResult(ClientNotice.objects.get(client=client, key=key), replayed=True)
    lines = [(i, a) for i, a in lines if a]
    problems = []
    if not lines:
        problems.append(Problem("enter an amount for at least one invoice", field="lines"))
    found, named = _open_invoices_named(client, [i for i, _ in lines], "lines")
    problems += named
    for row, (invoice_id, amount) in enumerate(lines):
        invoice = found.get(invoice_id)
        if amount < 0:
            problems.append(Problem("must be positive", field="lines", row=row))
        elif invoice is not None and invoice.currency != client.currency:
            problems.append(
                Problem(
                    f"{invoice.display_number} is not in {client.currency}", field="lines", row=row
                )
            )
        elif invoice is not None and amount > invoice.balance_minor:
            problems.append(
                Problem(
                    f"{invoice.display_number} owes {format_money(invoice.balance_minor, invoice.currency)}: "
                    "ask for that much at most",
                    field="lines",
                    row=row,
                )
            )
    total = sum(a for _, a in lines)
    available = available_credit(client)
    if lines and total > available:
        problems.append(
            Problem(
                f"that is {format_money(total, client.currency)} in all, and "
                f"{format_money(max(available, 0), client.currency)} of your credit is left to ask for",
                field="lines",
            )
        )
    if problems:
        raise DomainError("invalid_credit_request", "the request was not sent", problems)
    return _create_notice(
        actor=actor,
        client=client,
        key=key,
        action=AuditAction.CREDIT_APPLICATION_REQUESTED,
        invoices=list(lines),
        kind=NoticeKind.CREDIT_REQUEST,
        currency=client.currency,
        amount_minor=total,
    )


@transaction.atomic
def report_payment(
    *,
    actor: Actor,
    client: Client,
    amount_minor: int,
    currency: str,
    paid_on: date,
    method: str,
    reference: str,
    invoice_ids: list[int],
    key: uuid.UUID,
    today: date,
) -> NoticeResult:
    """The client says it has paid (remittance advice), optionally naming the open
    invoices of its own the payment is for, in their currency."""
    if ClientNotice.objects.filter(client=client, key=key).exists():
        return NoticeResult(ClientNotice.objects.get(client=client, key=key), replayed=True)
    problems = []
    if amount_minor <= 0:
        problems.append(Problem("must be more than zero", field="amount"))
    try:
        currency = check_currency(currency)
    except MoneyError as e:
        problems.append(Problem(str(e), field="currency"))
    if paid_on > today:
        problems.append(Problem("must be today or earlier", field="paid_on"))
    if method not in PaymentMethod.values:
        problems.append(Problem("choose how you paid", field="method"))
    if len(reference) > 200:
        problems.append(Problem("must be 200 characters at most", field="reference"))
    found, named = _open_invoices_named(client, invoice_ids, "invoices")
    problems += named
    for invoice in found.values():
        if invoice.currency != currency:
            problems.append(
                Problem(
                    f"{invoice.display_number} is in {invoice.currency}, not {currency}",
                    field="invoices",
                )
            )
    if problems:
        raise DomainError("invalid_remittance", "the payment was not reported", problems)
    return _create_notice(
        actor=actor,
        client=client,
        key=key,
        action=AuditAction.PAYMENT_REPORTED,
        invoices=[(i, None) for i in invoice_ids],
        kind=NoticeKind.REMITTANCE,
        currency=currency,
        amount_minor=amount_minor,
        paid_on=paid_on,
        method=method,
        reference=reference.strip(),
    )


def lock_waiting_notice(client: Client, notice_id: int, kind: str | None = None) -> ClientNotice:
    """The client's notice, locked, still waiting for the 3PL; another client's is
    NotFound, one already answered is refused."""
    try:
        notice = ClientNotice.objects.select_for_update().get(pk=notice_id, client=client)
    except ClientNotice.DoesNotExist:
        raise NotFound("request") from None
    if kind is not None and notice.kind != kind:
        raise NotFound("request")
    if notice.status != NoticeStatus.WAITING:
        raise DomainError(
            "notice_answered",
            f"this {notice.get_kind_display().lower()} was answered already "
            f"({notice.get_status_display().lower()})",
        )
    return notice


def close_notice(
    *,
    actor: Actor,
    notice: ClientNotice,
    status: str,
    answer: str = "",
    payment: Payment | None = None,
) -> ClientNotice:
    """Mark a locked waiting notice done (with the payment recorded from it) or declined."""
    before = _notice_snapshot(notice)
    notice.status = status
    notice.answer = answer
    notice.payment = payment
    notice.closed_by = actor if isinstance(actor, User) else None
    notice.closed_at = timezone.now()
    notice.save(update_fields=["status", "answer", "payment", "closed_by", "closed_at"])
    action = (
        AuditAction.CLIENT_NOTICE_DECLINED
        if status == NoticeStatus.DECLINED
        else AuditAction.CLIENT_NOTICE_DONE
    )
    audit.record(
        actor=actor, action=action, obj=notice, before=before, after=_notice_snapshot(notice)
    )
    return notice


@transaction.atomic
def decline_notice(*, actor: Actor, client: Client, notice_id: int, reason: str) -> ClientNotice:
    """Decline what a client asked or reported, with a reason the client reads."""
    notice = lock_waiting_notice(client, notice_id)
    reason = reason.strip()
    if not reason:
        raise DomainError(
            "invalid_decline",
            "the request was not declined",
            [Problem("tell the client why", field="reason")],
        )
    return close_notice(actor=actor, notice=notice, status=NoticeStatus.DECLINED, answer=reason)


@transaction.atomic
def match_remittance(
    *, actor: Actor, client: Client, notice_id: int, payment: Payment
) -> ClientNotice:
    """Remittance advice answered by the payment the operator recorded from it."""
    notice = lock_waiting_notice(client, notice_id, NoticeKind.REMITTANCE)
    if payment.client_id != client.pk:
        raise NotFound("payment")
    return close_notice(actor=actor, notice=notice, status=NoticeStatus.DONE, payment=payment)
