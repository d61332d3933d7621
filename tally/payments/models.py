"""Payments received from clients and how they are allocated to invoices."""

from django.db import models
from django.db.models import F, Q


class PaymentMethod(models.TextChoices):
    ACH = "ach", "ACH"
    WIRE = "wire", "Wire transfer"
    CARD = "card", "Card"
    CHECK = "check", "Check"
    SEPA = "sepa", "SEPA transfer"
    OTHER = "other", "Other"


# How each method reads: the console's pages and the portal's, its PDFs and CSVs.
METHOD_LABELS: dict[str, str] = {method.value: str(method.label) for method in PaymentMethod}


def method_label(method: str) -> str:
    """ "wire" → "Wire transfer". Every write checks a method against `PaymentMethod`; what
    is none of them (a credit request names no method: "") reads as it is."""
    return METHOD_LABELS.get(method, method)


class Payment(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    received_on = models.DateField()
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=200, blank=True)
    payer = models.CharField(max_length=200, blank=True)
    allocated_minor = models.BigIntegerField(default=0)
    # Unapplied credit handed back to the client (`Refund`): no longer the client's credit.
    refunded_minor = models.BigIntegerField(default=0)
    unapplied_minor = models.GeneratedField(
        expression=F("amount_minor") - F("allocated_minor") - F("refunded_minor"),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    idempotency_key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="payment_positive", condition=Q(amount_minor__gt=0)),
            models.CheckConstraint(
                name="payment_never_over_allocated",
                condition=Q(allocated_minor__gte=0) & Q(allocated_minor__lte=F("amount_minor")),
            ),
            models.CheckConstraint(
                name="payment_never_over_used",
                condition=Q(refunded_minor__gte=0)
                & Q(amount_minor__gte=F("allocated_minor") + F("refunded_minor")),
            ),
            models.UniqueConstraint(
                fields=["client", "idempotency_key"], name="payment_idempotency_key_per_client"
            ),
        ]
        indexes = [
            models.Index(fields=["client", "received_on"], name="payment_client_received_idx"),
            # The console's list of every client's payments, newest first.
            models.Index(fields=["received_on", "id"], name="payment_received_idx"),
        ]


class Allocation(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="allocations"
    )
    amount_minor = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="allocation_positive", condition=Q(amount_minor__gt=0)),
            models.UniqueConstraint(fields=["payment", "invoice"], name="allocation_one_per_pair"),
        ]
        indexes = [
            models.Index(fields=["invoice"], name="allocation_invoice_idx"),
            # Inside a client's scope every read of allocations also says the client (the
            # portal's views on SQLite, row security on PostgreSQL). Without statistics,
            # SQLite then read the client's allocations by the client index once per
            # invoice and per later payment: 1.9-3.9 s for the portal's aging of a past
            # day (bench/RESULTS.md). These serve both conditions at once.
            models.Index(fields=["client", "invoice"], name="allocation_client_invoice_idx"),
            models.Index(fields=["client", "payment"], name="allocation_client_payment_idx"),
        ]


class Refund(models.Model):
    """Unapplied credit paid back to the client, out of one payment: it no longer pays
    any invoice. The client sees it beside the payment."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    refunded_on = models.DateField()
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="refund_positive", condition=Q(amount_minor__gt=0)),
        ]
        indexes = [models.Index(fields=["payment"], name="refund_payment_idx")]


class NoticeKind(models.TextChoices):
    CREDIT_REQUEST = "credit_request", "Apply credit"
    REMITTANCE = "remittance", "Remittance advice"


class NoticeStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for the 3PL"
    DONE = "done", "Done"
    DECLINED = "declined", "Declined"


class ClientNotice(models.Model):
    """What a client tells the 3PL about money, for an operator to act on: "apply my
    unapplied credit to these invoices" (a credit request: each invoice with its amount)
    or "I've paid" (remittance advice: what, when, how, optionally for which invoices).
    One shape for both: one queue in the console, one form flow in the portal. Written
    by `payments.services` only; the client reads it (and the operator's answer)."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    status = models.CharField(
        max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.WAITING
    )
    currency = models.CharField(max_length=3)
    # A credit request: the credit asked for in all; remittance advice: what was paid.
    amount_minor = models.BigIntegerField()
    paid_on = models.DateField(null=True, blank=True)  # remittance advice
    method = models.CharField(max_length=10, choices=PaymentMethod.choices, blank=True)
    reference = models.CharField(max_length=200, blank=True)
    # The operator's reason when declined, shown to the client.
    answer = models.TextField(blank=True)
    # Remittance advice: the payment the operator recorded from it.
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The portal form's one-time key: a double submit finds the first notice.
    key = models.UUIDField()
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="notice_positive", condition=Q(amount_minor__gt=0)),
            models.UniqueConstraint(fields=["client", "key"], name="notice_key_per_client"),
            models.CheckConstraint(
                name="notice_remittance_says_when_and_how",
                condition=~Q(kind="remittance") | (Q(paid_on__isnull=False) & ~Q(method="")),
            ),
            models.CheckConstraint(
                name="notice_closed_when_not_waiting",
                condition=(Q(status="waiting") & Q(closed_at__isnull=True))
                | (~Q(status="waiting") & Q(closed_at__isnull=False)),
            ),
            models.CheckConstraint(
                name="notice_declined_says_why", condition=~Q(status="declined") | ~Q(answer="")
            ),
        ]
        indexes = [
            # The console's queues: a kind's waiting notices, oldest first.
            models.Index(fields=["status", "kind", "created_at", "id"], name="notice_queue_idx"),
            models.Index(fields=["client", "created_at"], name="notice_client_idx"),
        ]


class ClientNoticeInvoice(models.Model):
    """An invoice a notice names: a credit request's with the amount to apply to it;
    remittance advice's with none (the client says what the payment was for)."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    notice = models.ForeignKey(ClientNotice, on_delete=models.PROTECT, related_name="invoices")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="client_notices"
    )
    amount_minor = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "invoice"], name="notice_invoice_once"),
            models.CheckConstraint(
                name="notice_invoice_amount_positive",
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gt=0),
            ),
        ]
        indexes = [models.Index(fields=["invoice"], name="notice_invoice_idx")]
