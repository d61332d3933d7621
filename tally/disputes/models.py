"""Disputes a client opens on an invoice, and the conversation that settles them.

Operators' internal notes are a separate app that points here; nothing here points back,
so no query that starts from a dispute can reach them.
"""

from django.db import models
from django.db.models import Q


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Resolution(models.TextChoices):
    CREDITED = "credited", "Credited"
    UPHELD = "upheld", "Charge upheld"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Dispute(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.PROTECT, related_name="disputes"
    )
    status = models.CharField(
        max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    amount_minor = models.BigIntegerField(null=True, blank=True)  # what the client contests
    reason = models.TextField()
    opened_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True)
    resolution_summary = models.TextField(blank=True)  # shown to the client
    resolved_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    credit_note = models.OneToOneField(
        "invoicing.CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The operator working the dispute, if one took it; who had it before them (took it
    # over, or gave it back), so the page can say so.
    owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owned_since = models.DateTimeField(null=True, blank=True)
    previous_owner = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When the operators were emailed that the client withdrew it (as `emailed_at` is for
    # a message): set once, so a second try of the task sends nothing.
    withdrawal_emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["invoice"], condition=Q(status="open"), name="one_open_dispute_per_invoice"
            ),
            models.CheckConstraint(
                name="dispute_amount_positive",
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gt=0),
            ),
            models.CheckConstraint(
                name="dispute_resolved_has_resolution",
                condition=(Q(status="open") & Q(resolution=""))
                | (Q(status="resolved") & ~Q(resolution="") & Q(resolved_at__isnull=False)),
            ),
            models.CheckConstraint(
                name="dispute_credited_has_credit_note",
                condition=~Q(resolution="credited") | Q(credit_note__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["client", "status"], name="dispute_client_status_idx")]


class DisputeLine(models.Model):
    """A line of the invoice that the dispute contests."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey("invoicing.InvoiceLine", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dispute", "line"], name="dispute_line_once")
        ]


class AuthorSide(models.TextChoices):
    CLIENT = "client", "Client"
    OPERATOR = "operator", "Operator"


class DisputeMessage(models.Model):
    """The client-visible conversation. Operators' private notes are not messages."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    author_side = models.CharField(max_length=10, choices=AuthorSide.choices)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    # When the other side was emailed about it (an operator's reply: the client's billing
    # contacts; a client's message: the operators). Set once: a second try sends nothing.
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(name="dispute_message_not_empty", condition=~Q(body=""))
        ]
        indexes = [models.Index(fields=["dispute", "created_at"], name="dispute_message_idx")]


class DisputeAttachment(models.Model):
    """A file sent with a message: a cancellation list, a photo of a damaged pallet. What
    it is was read from its bytes, not from its name (`disputes.attachments`)."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        DisputeMessage, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(max_length=120)
    content_type = models.CharField(max_length=40)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["message"], name="dispute_attachment_msg")]


class DisputeAttachmentContent(models.Model):
    """An attachment's bytes, in the database rather than under any web root: written in
    the message's transaction (no file without its row, no row without its file), backed up
    with everything else, and read only on download, never when listing."""

    attachment = models.OneToOneField(
        DisputeAttachment, on_delete=models.CASCADE, primary_key=True, related_name="content"
    )
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    data = models.BinaryField()
