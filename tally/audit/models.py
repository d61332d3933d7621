"""The audit trail: append-only and hash-chained, so an edit or deletion shows."""

from django.db import models


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
