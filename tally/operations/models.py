"""Operational events: what the 3PL did for a client, the raw material of every charge."""

from django.db import models
from django.db.models import Q


class EventKind(models.TextChoices):
    PICK = "pick", "Pick"
    LABEL = "label", "Shipping label"
    STOP = "stop", "Delivery stop"
    STORAGE_DAY = "storage_day", "Storage day"


class Event(models.Model):
    # Written once, at ingestion, and never again: a line bills blocks of events
    # (invoicing.BilledRange) rather than pointing each event at its line. No index on
    # client_id alone: the composite indexes below lead with it, and each index costs
    # every insert (bench/RESULTS.md).
    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    quantity = models.BigIntegerField()
    # The human handle: order number, tracking number, stop address, pallet/location.
    reference = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=64)
    external_id = models.CharField(max_length=128)
    # Fingerprint of the payload, to tell a harmless re-send from a conflicting one.
    payload_hash = models.CharField(max_length=32)
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "source", "external_id"], name="event_unique_source_id_per_client"
            ),
            models.CheckConstraint(name="event_quantity_positive", condition=Q(quantity__gt=0)),
        ]
        indexes = [
            # Rating totals a block of events (client, kind, a span of time, a span of
            # ids) from this index alone, and a line's events page in (occurred_at, id)
            # order through it: page 20,000 of a million-event line is one seek.
            models.Index(
                fields=["client", "kind", "occurred_at", "id", "quantity"],
                name="event_block_idx",
            ),
            # Searching by reference ("which invoice billed order SO-123?", "did we get
            # tracking 1Z…?"). Every event is in it: ingestion pays for the entry as the
            # event arrives, rather than rating paying for it in the month-end run.
            models.Index(fields=["client", "reference"], name="event_reference_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} × {self.quantity}"
