"""Invoices, their lines, and credit notes.

Money columns are BIGINT minor units. The invoice keeps running totals of what has been
allocated and credited so that the balance is one generated column the database itself
refuses to take below zero (zero once void).
"""

from django.db import models
from django.db.models import Case, F, Q, Value, When

# InvoiceStatus is defined beside the client-visible status and imported from here too.
from .naming import format_credit_note_number, invoice_name
from .status import InvoiceQuerySet, InvoiceStatus


class Invoice(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    # Gapless, assigned at issue; drafts have none.
    number = models.PositiveBigIntegerField(null=True, blank=True, unique=True)
    period_start = models.DateField()
    period_end = models.DateField()  # inclusive
    currency = models.CharField(max_length=3)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    tax_rate_bp = models.PositiveIntegerField(default=0)
    subtotal_minor = models.BigIntegerField(default=0)
    tax_minor = models.BigIntegerField(default=0)
    total_minor = models.BigIntegerField(default=0)
    allocated_minor = models.BigIntegerField(default=0)
    credited_minor = models.BigIntegerField(default=0)
    # What is still owed: nothing on a void invoice (which keeps its total as the record of
    # what it billed), so that sorting and summing balances needs no exception for it.
    balance_minor = models.GeneratedField(
        expression=Case(
            When(status="void", then=Value(0)),
            default=F("total_minor") - F("allocated_minor") - F("credited_minor"),
        ),
        output_field=models.BigIntegerField(),
        db_persist=True,
    )
    void_reason = models.TextField(blank=True)
    # The void invoice this one was generated to correct (void and regenerate): it bills
    # the events the void one freed. Its reverse, `replacement`, names the correction.
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replacement"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    # issued(), outstanding(), with_status(today), status_is(...): the client-visible
    # status, defined once (status.py).
    objects = InvoiceQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="invoice_total_non_negative", condition=Q(total_minor__gte=0)
            ),
            models.CheckConstraint(
                name="invoice_allocated_non_negative", condition=Q(allocated_minor__gte=0)
            ),
            models.CheckConstraint(
                name="invoice_credited_non_negative", condition=Q(credited_minor__gte=0)
            ),
            models.CheckConstraint(
                name="invoice_never_overpaid",
                condition=Q(total_minor__gte=F("allocated_minor") + F("credited_minor")),
            ),
            models.CheckConstraint(
                name="invoice_number_iff_issued",
                condition=(Q(status=InvoiceStatus.DRAFT) & Q(number__isnull=True))
                | (Q(status__in=[InvoiceStatus.OPEN, InvoiceStatus.PAID]) & Q(number__isnull=False))
                | Q(status=InvoiceStatus.VOID),
            ),
            models.CheckConstraint(
                name="invoice_period_ordered", condition=Q(period_end__gte=F("period_start"))
            ),
        ]
        indexes = [
            models.Index(
                fields=["client", "status", "issue_date"], name="invoice_client_status_idx"
            ),
            models.Index(fields=["status", "due_date"], name="invoice_status_due_idx"),
            # The portal's invoice table: one client's invoices in the order of each sort,
            # with the id that breaks ties, so a page is an index range, not a sort of all
            # the client's invoices (bench/RESULTS.md, "Client portal").
            models.Index(fields=["client", "issue_date", "id"], name="invoice_client_issued_idx"),
            models.Index(fields=["client", "due_date", "id"], name="invoice_client_due_idx"),
            models.Index(fields=["client", "total_minor", "id"], name="invoice_client_total_idx"),
            models.Index(
                fields=["client", "balance_minor", "id"], name="invoice_client_balance_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return invoice_name(self.number, self.pk)


class LineKind(models.TextChoices):
    USAGE = "usage", "Usage"
    ADJUSTMENT = "adjustment", "Adjustment"


class InvoiceLine(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    line_type = models.CharField(max_length=12, choices=LineKind.choices, default=LineKind.USAGE)
    # The event kind a usage line bills (pick, label, …); empty for adjustments.
    kind = models.CharField(max_length=32, blank=True)
    description = models.CharField(max_length=300)
    quantity = models.BigIntegerField()
    unit_price_micros = models.BigIntegerField()
    amount_minor = models.BigIntegerField()
    event_count = models.BigIntegerField(default=0)
    reason = models.TextField(blank=True)  # why an adjustment was made
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                name="adjustment_has_reason",
                condition=~Q(line_type=LineKind.ADJUSTMENT) | ~Q(reason=""),
            ),
            models.CheckConstraint(
                name="usage_amount_non_negative",
                condition=~Q(line_type=LineKind.USAGE) | Q(amount_minor__gte=0, quantity__gte=0),
            ),
        ]
        indexes = [models.Index(fields=["invoice", "position"], name="line_invoice_idx")]


class BilledRange(models.Model):
    """A block of one client's events that a usage line bills.

    Every event of the client and kind that occurred in [occurred_from, occurred_to) and
    has an id in (after_id, upto_id] is billed by the line; the line's quantity and event
    count are the totals of those events. Generation takes the client's lock, which every
    ingestion of that client waits for, and reads the highest stored event id (the
    watermark) under it; so no event with an id under the watermark can arrive later, and
    a range stays exactly the events it was totalled from. Events are never written
    after ingestion: rating reads them, and voiding an invoice frees its ranges.

    The ranges of a client's live (non-void) invoices never overlap, which is what makes
    each billed event belong to exactly one line.
    """

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(InvoiceLine, on_delete=models.CASCADE, related_name="ranges")
    kind = models.CharField(max_length=32)
    occurred_from = models.DateTimeField()
    occurred_to = models.DateTimeField()  # exclusive
    after_id = models.BigIntegerField()  # exclusive
    upto_id = models.BigIntegerField()  # inclusive

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="billed_range_time_ordered", condition=Q(occurred_to__gt=F("occurred_from"))
            ),
            models.CheckConstraint(
                name="billed_range_ids_ordered",
                condition=Q(after_id__gte=0, upto_id__gt=F("after_id")),
            ),
        ]
        indexes = [
            # Generation finds a client's ranges that touch a period; a reference search
            # finds the range holding one event.
            models.Index(
                fields=["client", "kind", "occurred_from"], name="billed_range_client_idx"
            ),
        ]

    def events_condition(self, prefix: str = "") -> Q:
        """The events this range bills, as a filter on the events table."""
        return Q(
            **{
                f"{prefix}client_id": self.client_id,
                f"{prefix}kind": self.kind,
                f"{prefix}occurred_at__gte": self.occurred_from,
                f"{prefix}occurred_at__lt": self.occurred_to,
                f"{prefix}id__gt": self.after_id,
                f"{prefix}id__lte": self.upto_id,
            }
        )


class CreditNote(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.PositiveBigIntegerField(unique=True)
    amount_minor = models.BigIntegerField()
    reason = models.TextField()  # shown to the client
    created_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="credit_note_positive", condition=Q(amount_minor__gt=0)),
            models.CheckConstraint(name="credit_note_has_reason", condition=~Q(reason="")),
        ]
        # A client's scope says the client with every read (as for allocations, see
        # payments.Allocation): the invoice's credit notes by both at once.
        indexes = [models.Index(fields=["client", "invoice"], name="credit_note_client_inv_idx")]

    @property
    def display_number(self) -> str:
        return format_credit_note_number(self.number)


class CreditNoteLine(models.Model):
    """What a credit note by chosen lines credits on one line: the record beside the
    reason the client reads. A credit note by amount (or a dispute's) has none."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="lines")
    line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="credits")
    amount_minor = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["credit_note", "line"], name="credit_note_line_once"),
            models.CheckConstraint(
                name="credit_note_line_positive", condition=Q(amount_minor__gt=0)
            ),
        ]


class NumberSequence(models.Model):
    """Gapless counters (invoices, credit notes): the next number is taken under a row lock."""

    name = models.CharField(max_length=32, primary_key=True)
    last_value = models.PositiveBigIntegerField(default=0)


class BillingRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE_RUN_STATUSES = (BillingRunStatus.QUEUED, BillingRunStatus.RUNNING)


class BillingRun(models.Model):
    """An operator's month-end run: the month's drafts of the clients chosen, made by the
    worker client by client. Its counters are the progress the console shows; each
    client's outcome is a `BillingRunClient`. One run at a time per month (a partial
    unique index), so two operators starting the same month get one run."""

    period_start = models.DateField()  # the month's first day
    period_end = models.DateField()  # its last, inclusive
    all_clients = models.BooleanField()
    status = models.CharField(
        max_length=10, choices=BillingRunStatus.choices, default=BillingRunStatus.QUEUED
    )
    started_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.PROTECT, related_name="+"
    )
    started_by_label = models.CharField(max_length=254)  # the user's email or system label
    clients_total = models.PositiveIntegerField(default=0)
    clients_done = models.PositiveIntegerField(default=0)
    events_rated = models.BigIntegerField(default=0)  # priced or found without a price
    drafts = models.PositiveIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)  # the counters' last change
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period_start"],
                condition=Q(status__in=["queued", "running"]),
                name="billing_run_one_active_per_month",
            ),
            models.CheckConstraint(
                name="billing_run_done_within_total",
                condition=Q(clients_done__lte=F("clients_total")),
            ),
        ]
        indexes = [models.Index(fields=["created_at", "id"], name="billing_run_created_idx")]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class BillingRunClient(models.Model):
    """One client's part of a run: pending until the worker has billed it, then its draft
    (or none: nothing of the month had a price) and what went unrated. Marked done in the
    transaction that makes the draft, so a retried run skips it."""

    run = models.ForeignKey(BillingRun, on_delete=models.CASCADE, related_name="clients")
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    done = models.BooleanField(default=False)
    # The draft as it was made; a draft deleted later leaves its number and total here.
    invoice = models.ForeignKey(Invoice, null=True, on_delete=models.SET_NULL, related_name="+")
    invoice_ref = models.PositiveBigIntegerField(null=True)  # the draft's id when made
    currency = models.CharField(max_length=3, blank=True)
    total_minor = models.BigIntegerField(null=True)
    events = models.BigIntegerField(default=0)  # billed and unrated
    unrated = models.JSONField(default=list)  # [{"kind", "events", "quantity"}]
    refused = models.TextField(blank=True)  # a domain refusal, in its words
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "client"], name="billing_run_client_once")
        ]


class InvoiceEmailStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # A try stopped between handing the email over and recording it: it may have gone
    # out. Never resent blindly; an operator sends it again if need be.
    NEEDS_REVIEW = "needs_review", "Needs review"
    # The invoice was voided between the request and the try: a void invoice is never
    # emailed as owed. `detail` says so.
    NOT_SENT = "not_sent", "Not sent"


class InvoiceEmailReason(models.TextChoices):
    ISSUED = "issued", "On issue"
    SENT_AGAIN = "sent_again", "Sent again"


class InvoiceEmail(models.Model):
    """One email of an invoice to its client's billing contacts, sent by the worker: at
    issue, and each time an operator sends it again. Sent at most once."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="emails")
    reason = models.CharField(max_length=12, choices=InvoiceEmailReason.choices)
    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.CharField(max_length=254)  # the audit trail's label of the actor
    status = models.CharField(
        max_length=12, choices=InvoiceEmailStatus.choices, default=InvoiceEmailStatus.QUEUED
    )
    recipients = models.JSONField(default=list)
    sent_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)  # why it failed

    class Meta:
        indexes = [models.Index(fields=["invoice", "requested_at"], name="invoice_email_idx")]


class InvoiceEmailAttempt(models.Model):
    """Every try at sending an invoice email, whatever came of it."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    email = models.ForeignKey(InvoiceEmail, on_delete=models.CASCADE, related_name="attempts")
    attempt = models.PositiveIntegerField()  # the worker's try, from 1
    attempted_at = models.DateTimeField(auto_now_add=True)
    recipients = models.JSONField(default=list)
    outcome = models.CharField(max_length=12, choices=InvoiceEmailStatus.choices)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]
