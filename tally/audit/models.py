"""The audit trail: append-only and hash-chained, so an edit or deletion shows."""

from enum import StrEnum

from django.db import models


class AuditAction(StrEnum):
    """Every action the trail records, declared once: `record` refuses any other.

    The value is what is stored, `<object>.<what happened>`. Stored values never change:
    rows are append-only and their hash covers the action, so a rename could not be
    migrated. A new action is one line here.
    """

    CLIENT_CREATED = "client.created"
    CLIENT_REMINDER_POLICY_SET = "client.reminder_policy_set"
    USER_PASSWORD_RESET = "user.password_reset"
    USER_PASSWORD_CHANGED = "user.password_changed"
    # A signed-in browser ended by its owner from another one (not an ordinary sign-out).
    USER_SESSION_ENDED = "user.session_ended"
    BILLING_CONTACT_ADDED = "billing_contact.added"
    BILLING_CONTACT_REMOVED = "billing_contact.removed"
    EVENTS_INGESTED = "events.ingested"
    RATE_CARD_CREATED = "rate_card.created"
    RATE_CARD_CLOSED = "rate_card.closed"
    INVOICE_GENERATED = "invoice.generated"
    INVOICE_ADJUSTED = "invoice.adjusted"
    INVOICE_ADJUSTMENT_REMOVED = "invoice.adjustment_removed"
    INVOICE_ISSUED = "invoice.issued"
    INVOICE_PAID = "invoice.paid"
    INVOICE_VOIDED = "invoice.voided"
    INVOICE_CREDITED = "invoice.credited"
    # Void and regenerate: the void invoice names its replacement, the replacement the
    # invoice it replaces.
    INVOICE_REPLACED = "invoice.replaced"
    INVOICE_REGENERATED = "invoice.regenerated"
    INVOICE_EMAIL_REQUESTED = "invoice_email.requested"
    INVOICE_EMAIL_SENT = "invoice_email.sent"
    INVOICE_EMAIL_FAILED = "invoice_email.failed"
    INVOICE_EMAIL_NEEDS_REVIEW = "invoice_email.needs_review"
    INVOICE_EMAIL_NOT_SENT = "invoice_email.not_sent"
    CREDIT_NOTE_CREATED = "credit_note.created"
    PAYMENT_RECORDED = "payment.recorded"
    PAYMENT_ALLOCATED = "payment.allocated"
    # Part of a payment taken back from an invoice: misapplied, or credited after payment.
    PAYMENT_UNALLOCATED = "payment.unallocated"
    PAYMENT_REFUNDED = "payment.refunded"
    # What a client tells the 3PL about money (payments.ClientNotice): apply my credit to
    # these invoices; I've paid. The operator acts on it (done) or declines it, saying why.
    CREDIT_APPLICATION_REQUESTED = "credit_application.requested"
    PAYMENT_REPORTED = "payment.reported"
    CLIENT_NOTICE_DONE = "client_notice.done"
    CLIENT_NOTICE_DECLINED = "client_notice.declined"
    # A paid invoice owes again (a payment taken back from it): open, or overdue, again.
    INVOICE_REOPENED = "invoice.reopened"
    REMINDER_POLICY_CREATED = "reminder_policy.created"
    REMINDER_POLICY_UPDATED = "reminder_policy.updated"
    # One event on the invoice for all its steps still to come (paid or void). The
    # object is the invoice; `reminder.skipped` below is one step, passed over by the sender.
    INVOICE_REMINDERS_SKIPPED = "reminders.skipped"
    # The steps skipped when it was paid and not yet due, scheduled again: it owes again.
    INVOICE_REMINDERS_RESUMED = "reminders.resumed"
    REMINDER_CLAIMED = "reminder.claimed"
    REMINDER_SENT = "reminder.sent"
    REMINDER_FAILED = "reminder.failed"
    REMINDER_SKIPPED = "reminder.skipped"
    REMINDER_PAUSED = "reminder.paused"
    REMINDER_RETRY_SCHEDULED = "reminder.retry_scheduled"
    REMINDER_NEEDS_REVIEW = "reminder.needs_review"
    DISPUTE_OPENED = "dispute.opened"
    DISPUTE_MESSAGE_POSTED = "dispute.message_posted"
    DISPUTE_RESOLVED = "dispute.resolved"
    DISPUTE_WITHDRAWN = "dispute.withdrawn"
    DISPUTE_TAKEN = "dispute.taken"
    DISPUTE_RELEASED = "dispute.released"
    DISPUTE_REPLY_EMAILED = "dispute.reply_emailed"
    DISPUTE_OPERATORS_NOTIFIED = "dispute.operators_notified"
    INTERNAL_NOTE_ADDED = "internal_note.added"
    BILLING_RUN_STARTED = "billing_run.started"
    BILLING_RUN_FINISHED = "billing_run.finished"
    BILLING_RUN_FAILED = "billing_run.failed"


class AuditEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    client_id = models.BigIntegerField(null=True, blank=True)
    # Canonical JSON of {"before": …, "after": …}, kept as text: the hash covers these bytes.
    data = models.TextField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["client_id", "occurred_at"], name="audit_client_idx"),
        ]


class AuditHead(models.Model):
    """One row: the hash of the last event. Locking it serialises appends to the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_event_id = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
