"""Operational events: what the 3PL did for a client, the raw material of every charge."""

from django.db import models
from django.db.models import Q


class EventKind(models.TextChoices):
    PICK = "pick", "Pick"
    LABEL = "label", "Shipping label"
    STOP = "stop", "Delivery stop"
    STORAGE_DAY = "storage_day", "Storage day"


class Event(models.Model):
    # No single-column index on either foreign key: the composite indexes below lead with
    # client_id and line_id and serve every lookup, and each index costs every insert and
    # every rating UPDATE (bench/RESULTS.md).
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
    # Set once rated; cleared when the invoice is voided so the event can be billed again.
    line = models.ForeignKey(
        "invoicing.InvoiceLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    ingested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "source", "external_id"], name="event_unique_source_id_per_client"
            ),
            models.CheckConstraint(name="event_quantity_positive", condition=Q(quantity__gt=0)),
        ]
        indexes = [
            # Rating reads a client's unbilled events of a period.
            models.Index(
                fields=["client", "occurred_at"],
                name="event_unbilled_idx",
                condition=Q(line__isnull=True),
            ),
            # Drilldown pages a line's events in time order (keyset on occurred_at, id); it
            # also finds a line's events for void and for the foreign key's checks, and
            # carries the quantity so that totalling a line reads the index alone. Unbilled
            # events are left out, so ingesting does not pay for it.
            models.Index(
                fields=["line", "occurred_at", "id", "quantity"],
                name="event_line_keyset_idx",
                condition=Q(line__isnull=False),
            ),
            # Searching by reference ("which invoice billed order SO-123?", "did we get
            # tracking 1Z…?"). Every event is in it: ingestion pays for the entry as the
            # event arrives, rather than rating paying for it in the month-end run.
            models.Index(fields=["client", "reference"], name="event_reference_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} × {self.quantity}"
