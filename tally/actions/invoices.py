"""Issuing, voiding and crediting invoices: what each brings about in reminders,
payments and disputes."""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.disputes.models import Dispute, DisputeStatus
from tally.errors import DomainError, Problem
from tally.invoicing import services as invoicing
from tally.invoicing.models import CreditNote, Invoice, InvoiceLine, InvoiceStatus, LineKind
from tally.payments.services import (
    apply_credit_to_issued_invoice,
    lock_payments_on,
    release_for_credit,
)
from tally.reminders.services import schedule_reminders, skip_pending_reminders


def stop_reminders_once_paid(invoice: Invoice, actor: Actor) -> None:
    """After a change that may have paid an invoice (it was open or a draft before): once
    paid, the steps still to come will not be sent. Audited after the change that paid it,
    and before anything else happens to another invoice."""
    if invoice.status == InvoiceStatus.PAID:
        skip_pending_reminders(invoice, "invoice paid", actor)


@transaction.atomic
def issue_invoice(
    *, actor: Actor, client: Client, invoice_id: int, issue_date: date | None = None
) -> Invoice:
    """Give a draft its number, dates and reminder schedule; from now the client sees it.

    Credit the client has left over (an overpayment) pays the invoice straight away, as
    the portal tells the client it will.
    """
    invoice = invoicing.lock_invoice(client, invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise DomainError("invoice_not_draft", f"invoice is {invoice.status}, not a draft")
    before = invoicing.snapshot(invoice)
    invoice.issue_date = issue_date or invoicing.client_today(client)
    invoice.due_date = invoice.issue_date + timedelta(days=client.payment_terms_days)
    invoice.number = invoicing.next_number("invoice")
    invoice.status = InvoiceStatus.OPEN
    invoice.issued_at = timezone.now()
    invoice.save(update_fields=["issue_date", "due_date", "number", "status", "issued_at"])
    schedule = schedule_reminders(invoice) if invoice.total_minor > 0 else []
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_ISSUED,
        obj=invoice,
        before=before,
        after={
            **invoicing.snapshot(invoice),
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "reminders_scheduled_for": [step.scheduled_for for step in schedule],
        },
    )
    invoicing.mark_paid_if_settled(invoice, actor)  # nothing to pay
    if invoice.status == InvoiceStatus.OPEN:
        apply_credit_to_issued_invoice(actor=actor, invoice=invoice)
    stop_reminders_once_paid(invoice, actor)
    return invoice


@transaction.atomic
def void_invoice(*, actor: Actor, client: Client, invoice_id: int, reason: str) -> Invoice:
    """Cancel a draft or an unpaid invoice; its events become billable again."""
    invoice = invoicing.lock_invoice(client, invoice_id)
    if not reason.strip():
        raise DomainError(
            "invalid_void", "a reason is required", [Problem("is required", field="reason")]
        )
    if invoice.status not in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN):
        raise DomainError("invoice_not_voidable", f"a {invoice.status} invoice cannot be voided")
    if invoice.allocated_minor or invoice.credited_minor:
        raise DomainError(
            "invoice_has_payments", "payments or credits are applied; reverse them before voiding"
        )
    if Dispute.objects.filter(invoice=invoice, status=DisputeStatus.OPEN).exists():
        raise DomainError("invoice_disputed", "resolve the open dispute before voiding")
    before = invoicing.snapshot(invoice)
    # Its ranges stay as the record of what it billed; a void invoice's ranges no longer
    # count as billed, so the next generation bills those events again.
    released = sum(invoice.lines.values_list("event_count", flat=True))
    invoice.status = InvoiceStatus.VOID
    invoice.void_reason = reason.strip()
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "void_reason", "voided_at"])
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_VOIDED,
        obj=invoice,
        before=before,
        after={**invoicing.snapshot(invoice), "reason": reason, "events_released": released},
    )
    skip_pending_reminders(invoice, "invoice voided", actor)
    return invoice


@transaction.atomic
def create_credit_note(
    *,
    actor: Actor,
    client: Client,
    invoice_id: int,
    amount_minor: int,
    reason: str,
    lines: list[tuple[int, int]] | None = None,
) -> CreditNote:
    """Reduce what an invoice owes, with a reason the client will read; a credit that
    pays the invoice stops its reminders.

    Credit after payment: a credit larger than what the invoice still owes (up to what it
    billed less earlier credits) first takes the difference back from its payments, the
    latest first, and that money is the client's unapplied credit, to pay the next invoice
    or be refunded. Balance, allocations and credits stay within the total throughout.
    """
    lock_payments_on(invoice_id)  # payments before the invoice, as every allocation locks
    invoice = invoicing.lock_invoice(client, invoice_id)
    if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.PAID) and amount_minor > 0:
        creditable = invoice.total_minor - invoice.credited_minor
        if amount_minor > creditable:
            raise DomainError(
                "credit_exceeds_invoice",
                f"the credit ({amount_minor}) is larger than what the invoice billed less "
                f"earlier credits ({creditable})",
                [Problem(f"must be at most {creditable} minor units", field="amount")],
            )
        if reason.strip():
            release_for_credit(actor=actor, invoice=invoice, amount_minor=amount_minor)
    note = invoicing.create_credit_note(
        actor=actor,
        client=client,
        invoice_id=invoice_id,
        amount_minor=amount_minor,
        reason=reason,
        lines=lines or (),
    )
    stop_reminders_once_paid(note.invoice, actor)
    return note


@transaction.atomic
def void_and_regenerate(*, actor: Actor, client: Client, invoice_id: int, reason: str) -> Invoice:
    """Void an issued invoice and generate the draft that replaces it: the same period,
    billing exactly the events the void one billed (`invoicing.generate_replacement_draft`),
    priced by the rate cards as they stand now — the point of a correction is usually a
    rate fixed since — with its adjustment lines carried over. Each names the other.

    Events of the period that arrived after the void invoice was generated are not put
    on the replacement: they stay unbilled, for the period's next run, as they would
    have without the correction. Events with no price today stay unbilled too (the audit
    trail's `invoice.generated` row counts them)."""
    invoice = invoicing.lock_invoice(client, invoice_id)
    if invoice.number is None:
        raise DomainError("invoice_not_issued", "only an issued invoice is regenerated")
    void = void_invoice(actor=actor, client=client, invoice_id=invoice_id, reason=reason)
    draft = invoicing.generate_replacement_draft(
        actor=actor, client=client, void_id=void.pk
    ).invoice
    for line in void.lines.filter(line_type=LineKind.ADJUSTMENT).order_by("position", "id"):
        invoicing.add_adjustment(
            actor=actor,
            client=client,
            invoice_id=draft.pk,
            description=line.description,
            amount_minor=line.amount_minor,
            reason=line.reason,
        )
    if not draft.lines.exists():
        raise DomainError(
            "nothing_to_regenerate",
            "nothing the invoice billed has a price today: the replacement would be empty",
        )
    draft.replaces = void
    draft.save(update_fields=["replaces"])
    draft.refresh_from_db()
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_REPLACED,
        obj=void,
        after={"replacement_id": draft.pk, "reason": reason.strip()},
    )
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_REGENERATED,
        obj=draft,
        after={"replaces_id": void.pk, "replaces_number": void.number, **invoicing.snapshot(draft)},
    )
    return draft


@transaction.atomic
def credit_invoice_lines(
    *, actor: Actor, client: Client, invoice_id: int, lines: list[tuple[int, int]], reason: str
) -> CreditNote:
    """A credit note for chosen lines, each for its whole amount or part of it, recorded
    line by line (`CreditNoteLine`): the client reads the reason and, beside it, what
    each line was credited."""
    lock_payments_on(invoice_id)  # before the invoice, as `create_credit_note` locks them
    invoice = invoicing.lock_invoice(client, invoice_id)
    on_invoice = {
        line.pk: line for line in InvoiceLine.objects.filter(invoice=invoice, client=client)
    }
    problems = []
    if not lines:
        problems.append(Problem("choose at least one line", field="lines"))
    for line_id, amount_minor in lines:
        line = on_invoice.get(line_id)
        if line is None:
            problems.append(Problem("is not a line of this invoice", field=f"line_{line_id}"))
        elif amount_minor <= 0:
            problems.append(Problem("must be positive", field=f"line_{line_id}"))
        elif amount_minor > line.amount_minor:
            problems.append(
                Problem(
                    f"must be at most the line's amount ({line.amount_minor} minor units)",
                    field=f"line_{line_id}",
                )
            )
    if len({line_id for line_id, _ in lines}) != len(lines):
        problems.append(Problem("a line is named twice", field="lines"))
    if problems:
        raise DomainError("invalid_credit_note", "the credit note was not created", problems)
    return create_credit_note(
        actor=actor,
        client=client,
        invoice_id=invoice_id,
        amount_minor=sum(amount for _, amount in lines),
        reason=reason,
        lines=lines,
    )
