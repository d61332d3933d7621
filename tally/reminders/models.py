"""Reminder schedules. Each step of an invoice's schedule is one row, sent at most once."""

from django.db import models
from django.db.models import Q


def default_offsets() -> list[int]:
    return [-3, 0, 7, 14, 30]


class ReminderPolicy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # Days relative to the due date: -3 is three days before, 7 is a week overdue.
    offsets_days = models.JSONField(default=default_offsets)
    is_default = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="one_default_reminder_policy",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReminderStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"
    NEEDS_REVIEW = "needs_review", "Needs review"


class Reminder(models.Model):
    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(
        "invoicing.Invoice", on_delete=models.CASCADE, related_name="reminders"
    )
    offset_days = models.IntegerField()
    scheduled_for = models.DateField()
    status = models.CharField(
        max_length=12, choices=ReminderStatus.choices, default=ReminderStatus.SCHEDULED
    )
    # Why a step was skipped, or what went wrong; shown to operators.
    status_detail = models.CharField(max_length=300, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set when the mail server could not be reached: not claimed again before this time.
    retry_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "offset_days"], name="reminder_one_per_step"
            ),
        ]
        indexes = [
            models.Index(
                fields=["scheduled_for"],
                name="reminder_due_idx",
                condition=Q(status="scheduled"),
            ),
            models.Index(fields=["invoice", "scheduled_for"], name="reminder_invoice_idx"),
            # The console's reminders to look at (failed, needs review), latest first: a
            # few among many sent. Not a partial index: SQLite cannot match its condition
            # to the query's bound `status IN (?, ?)`.
            models.Index(fields=["status", "scheduled_for", "id"], name="reminder_status_idx"),
        ]


class ReminderAttempt(models.Model):
    """Every try at sending a step, whatever came of it."""

    client = models.ForeignKey("clients.Client", on_delete=models.PROTECT, related_name="+")
    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=12, choices=ReminderStatus.choices)
    recipients = models.JSONField(default=list)
    error = models.TextField(blank=True)
