"""Operational events: what the 3PL did for a client, the raw material of every charge."""

from typing import Any

from django.db import models
from django.db.models import Func, Q


class UTCDay(Func):
    """The UTC calendar day of a timestamp, as each database can keep it in a generated
    column.

    SQLite keeps Django's timestamps as UTC text ('2026-01-05 12:00:00'), so the day is its
    first ten characters; PostgreSQL's `AT TIME ZONE 'UTC'` is immutable, as a generated
    column's expression must be.
    """

    arity = 1
    output_field = models.DateField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="substr(%(expressions)s, 1, 10)")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="((%(expressions)s AT TIME ZONE 'UTC')::date)"
        )


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
    # The UTC day, kept by the database: the reference index's first key. A column, not
    # an index on the expression: PostgreSQL does not use an expression (timezone() is
    # not leakproof) ahead of the portal's row security.
    occurred_on = models.GeneratedField(
        expression=UTCDay("occurred_at"), output_field=models.DateField(), db_persist=True
    )
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
            # event arrives, rather than rating paying for it in the month-end run. By
            # day first: tracking numbers and addresses are random, and under (client,
            # reference) alone each new event dirtied a page of its own anywhere in the
            # index (bench/RESULTS.md, 2026-11-30); within a day a batch's entries share
            # pages. The client last: one seek a day finds a reference in every client's
            # events (the console) as in one client's (the portal, the client checked in
            # the index's entries), so one index serves both (invoicing.reference_search).
            models.Index(
                fields=["occurred_on", "reference", "client"],
                name="event_day_reference_client_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} × {self.quantity}"


class DailyActivity(models.Model):
    """A client's events of one kind on one of its own calendar days (its time zone), as
    running totals: what the portal's activity page and its estimate of the charges to
    come read instead of the events.

    Ingestion adds each batch's new events in the batch's own transaction (services,
    `activity.add`), so the totals hold exactly the committed events; a re-sent event is
    not new and adds nothing. Events are never changed or deleted once stored (a void
    frees an invoice's ranges, not its events), so nothing ever subtracts.
    `activity.differences` recounts them from the events.
    """

    client = models.ForeignKey(
        "clients.Client", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    day = models.DateField()
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    events = models.BigIntegerField()
    quantity = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the index every read uses: a client's span of days.
            models.UniqueConstraint(
                fields=["client", "day", "kind"], name="daily_activity_one_per_day_kind"
            ),
            models.CheckConstraint(
                name="daily_activity_positive", condition=Q(events__gt=0, quantity__gt=0)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.events} events, {self.quantity}"
