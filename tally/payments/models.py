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
        indexes = [models.Index(fields=["invoice"], name="allocation_invoice_idx")]


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
