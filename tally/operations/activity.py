"""Running totals of a client's events per day and kind (`DailyActivity`).

A day is the client's own calendar day, in its time zone (which `create_client` fixes
once: nothing changes it afterwards), as rating cuts a period and the portal draws it.

Ingestion counts each batch's new events by UTC hour as it checks them (`Tally`: a
slice of the timestamp's text and a dictionary update per event, no time zone work), and
`add` turns the hours into the client's days and adds them to the totals in one
statement, in the batch's transaction. An hour holding the client's midnight (a zone
half an hour off UTC, or a change of offset) is split by reading back its events
(`Exact`). `recount` totals the stored events the same way, by SQL, for the backfill
(`rebuild`) and the check (`differences`).
"""

import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from tally.clients.models import Client

from .models import DailyActivity

# The slice of an event's UTC time (as stored: '2026-01-05 12:00:00' on SQLite, ISO 8601
# on PostgreSQL) that ingestion counts it under: its hour ('2026-01-05 12').
HOUR = 13
MINUTE = 16

Bucket = tuple[int, str, str]  # (client id, kind, UTC time cut to the hour or minute)
Tally = dict[Bucket, list[int]]  # → [events, quantity]
DayKey = tuple[int, str, date]  # (client id, kind, the client's day)
Totals = dict[DayKey, tuple[int, int]]  # → (events, quantity)
# The events of one client and kind in [start, end) that a tally counted: (time, quantity).
Exact = Callable[[int, str, datetime, datetime], Iterable[tuple[Any, int]]]

_TABLE = DailyActivity._meta.db_table
_ROWS_PER_STATEMENT = 500


def count(tally: Tally, client_id: int, kind: str, occurred_at: str, quantity: int) -> None:
    """Count one event (ingestion inlines this in its loop)."""
    key = (client_id, kind, occurred_at[:HOUR])
    seen = tally.get(key)
    if seen is None:
        tally[key] = [1, quantity]
    else:
        seen[0] += 1
        seen[1] += quantity


def _instant(text: str) -> datetime:
    """The UTC instant a bucket's text starts at ('2026-01-05 12' or '2026-01-05T12:30')."""
    minute = int(text[14:16]) if len(text) >= MINUTE else 0
    return datetime(
        int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), minute, tzinfo=UTC
    )


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def to_days(tally: Tally, zones: Mapping[int, str], exact: Exact) -> Totals:
    """The tally by the client's day. A bucket whose span holds a midnight of the client's
    is read back event by event through `exact`."""
    tz_of = {cid: zoneinfo.ZoneInfo(name) for cid, name in zones.items()}
    totals: dict[DayKey, list[int]] = {}

    def add_to(key: DayKey, n: int, q: int) -> None:
        seen = totals.get(key)
        if seen is None:
            totals[key] = [n, q]
        else:
            seen[0] += n
            seen[1] += q

    for (cid, kind, text), (n, q) in tally.items():
        tz = tz_of[cid]
        start = _instant(text)
        span = timedelta(hours=1) if len(text) < MINUTE else timedelta(minutes=1)
        day = start.astimezone(tz).date()
        if (start + span - timedelta(microseconds=1)).astimezone(tz).date() == day:
            add_to((cid, kind, day), n, q)
            continue
        for at, quantity in exact(cid, kind, start, start + span):
            add_to((cid, kind, _as_utc(at).astimezone(tz).date()), 1, quantity)
    return {key: (n, q) for key, (n, q) in totals.items()}


def _db_time(value: datetime) -> Any:
    if connection.vendor == "postgresql":
        return value
    return connection.ops.adapt_datetimefield_value(value)


def stamped_events(stamp: str) -> Exact:
    """`Exact` for a batch being ingested: its events carry its ingestion stamp."""

    def exact(cid: int, kind: str, start: datetime, end: datetime) -> list[tuple[Any, int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT occurred_at, quantity FROM operations_event WHERE client_id = %s "
                "AND kind = %s AND occurred_at >= %s AND occurred_at < %s AND ingested_at = %s",
                [cid, kind, _db_time(start), _db_time(end), stamp],
            )
            return cursor.fetchall()

    return exact


def _stored_events(cid: int, kind: str, start: datetime, end: datetime) -> list[tuple[Any, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT occurred_at, quantity FROM operations_event WHERE client_id = %s "
            "AND kind = %s AND occurred_at >= %s AND occurred_at < %s",
            [cid, kind, _db_time(start), _db_time(end)],
        )
        return cursor.fetchall()


def add(totals: Totals) -> None:
    """Add a batch's new events to the running totals: one upsert per 500 days, in key
    order (two batches adding to the same rows wait for each other rather than deadlock)."""
    if not totals:
        return
    adapt = connection.ops.adapt_datefield_value
    rows = sorted(totals.items())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            chunk = rows[start : start + _ROWS_PER_STATEMENT]
            params: list[Any] = []
            for (cid, kind, day), (n, q) in chunk:
                params += [cid, adapt(day), kind, n, q]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {_TABLE} (client_id, day, kind, events, quantity) "  # noqa: S608 (placeholders only)
                f"VALUES {values} ON CONFLICT (client_id, day, kind) DO UPDATE SET "
                f"events = {_TABLE}.events + excluded.events, "
                f"quantity = {_TABLE}.quantity + excluded.quantity",
                params,
            )


def _zones(client_ids: Iterable[int] | None) -> dict[int, str]:
    clients = Client.objects.all()
    if client_ids is not None:
        clients = clients.filter(pk__in=list(client_ids))
    return dict(clients.values_list("id", "time_zone"))


def recount(client_ids: Iterable[int] | None = None) -> Totals:
    """The totals as the stored events make them: by SQL, a client at a time, per kind
    and UTC hour (read through the events' (client, kind, occurred_at) index), then by day."""
    zones = _zones(client_ids)
    hour = (
        "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"
        if connection.vendor == "postgresql"
        else f"substr(occurred_at, 1, {HOUR})"
    )
    tally: Tally = {}
    with connection.cursor() as cursor:
        for cid in sorted(zones):
            cursor.execute(
                f"SELECT kind, {hour}, COUNT(*), SUM(quantity) FROM operations_event "  # noqa: S608 (constants only)
                "WHERE client_id = %s GROUP BY kind, 2",
                [cid],
            )
            for kind, text, n, q in cursor.fetchall():
                tally[(cid, kind, text)] = [int(n), int(q)]
    return to_days(tally, zones, _stored_events)


def stored(client_ids: Iterable[int] | None = None) -> Totals:
    rows = DailyActivity.objects.all()
    if client_ids is not None:
        rows = rows.filter(client_id__in=list(client_ids))
    return {
        (cid, kind, day): (n, q)
        for cid, kind, day, n, q in rows.values_list(
            "client_id", "kind", "day", "events", "quantity"
        )
    }


@dataclass(frozen=True)
class Difference:
    client_id: int
    kind: str
    day: date
    stored: tuple[int, int] | None  # (events, quantity)
    recounted: tuple[int, int] | None


def differences(client_ids: Iterable[int] | None = None) -> list[Difference]:
    """Where the running totals differ from a recount of the events: none, always."""
    ids = list(client_ids) if client_ids is not None else None
    with transaction.atomic():  # on SQLite one snapshot; on PostgreSQL run it quiet
        kept = stored(ids)
        counted = recount(ids)
    return [
        Difference(cid, kind, day, kept.get(key), counted.get(key))
        for key in sorted(kept.keys() | counted.keys())
        for cid, kind, day in [key]
        if kept.get(key) != counted.get(key)
    ]


@transaction.atomic
def rebuild(client_ids: Iterable[int] | None = None) -> int:
    """Replace the totals with a recount (the migration's backfill, the benchmark's data
    set, which writes its events by SQL). Returns the rows written."""
    ids = list(client_ids) if client_ids is not None else None
    rows = DailyActivity.objects.all()
    if ids is not None:
        rows = rows.filter(client_id__in=ids)
    rows.delete()
    totals = recount(ids)
    add(totals)
    return len(totals)
