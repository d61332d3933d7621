"""Running totals of a client's events per day and kind (`DailyActivity`).

A day is the client's own calendar day, in its time zone (which `create_client` fixes
once: nothing changes it afterwards), as rating cuts a period and the portal draws it.

Ingestion counts each batch's new events by UTC hour as it checks them (`Tally`: a
slice of the timestamp's text and a dictionary update per event, no time zone work), and
`add` turns the hours into the client's days and adds them to the totals in one
statement, in the batch's transaction. An hour holding the client's midnight (a zone
half an hour off UTC, or a change of offset) is split by reading back its events
(`Exact`). `recount` totals the stored events the same way, by SQL, for the check
(`differences`). `rebuild` (the backfill) counts them by SQL alone: the client's days,
as the spans of UTC time its zone gives them (`local_days`), joined to its events.
"""

import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction

from tally.clients.models import Client

from .models import DailyActivity, EventKind

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
    """An instant as the events' column compares with it: on SQLite the UTC text Django
    stores ('2026-01-05 12:00:00', '.123456' when it has microseconds)."""
    if connection.vendor == "postgresql":
        return value
    return str(value.astimezone(UTC).replace(tzinfo=None))


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


def _offset(tz: zoneinfo.ZoneInfo, t: int) -> int:
    """The zone's offset from UTC at POSIX second `t`, in seconds."""
    offset = datetime.fromtimestamp(t, tz).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


def offsets(zone: str, first: datetime, last: datetime) -> list[tuple[datetime | None, int]]:
    """The zone's offsets from UTC over [first, last], as Python's time zone database has
    them (the one ingestion's `to_days` reads): [(from, seconds)], the first from None.

    Read a day apart and, where two days differ, bisected to the second the offset
    changes at (the database's changes fall on whole seconds; none has two a day)."""
    tz = zoneinfo.ZoneInfo(zone)
    start, end = int(first.timestamp()), int(last.timestamp()) + 1
    found: list[tuple[datetime | None, int]] = [(None, _offset(tz, start))]
    at, now = start, found[0][1]
    while at < end:
        step = min(at + 86_400, end)
        later = _offset(tz, step)
        if later != now:
            low, high = at, step  # now at low, another offset at high
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(tz, middle) == now:
                    low = middle
                else:
                    high = middle
            now = _offset(tz, high)
            found.append((datetime.fromtimestamp(high, UTC), now))
            at = high
        else:
            at = step
    return found


def local_days(zone: str, first: datetime, last: datetime) -> list[tuple[date, datetime, datetime]]:
    """The zone's calendar days from the day before `first` to the day after `last`, each
    as the UTC time it spans: [(day, from, to)], in time order, [from, to).

    Within a stretch of one offset the day changes at each local midnight; a day that
    holds a change of offset is one span (or two, where the clocks went back over its
    midnight and the day before came again)."""
    spans: list[tuple[date, datetime, datetime]] = []
    start, end = first - timedelta(days=1), last + timedelta(days=1)
    stretches = offsets(zone, start, end)
    for n, (since, seconds) in enumerate(stretches):
        at = max(since, start) if since else start
        until = stretches[n + 1][0] if n + 1 < len(stretches) else end
        shift = timedelta(seconds=seconds)
        assert until is not None
        while at < until:
            day = (at + shift).date()
            cut = min(datetime.combine(day + timedelta(days=1), time(), UTC) - shift, until)
            if spans and spans[-1][0] == day and spans[-1][2] == at:
                spans[-1] = (day, spans[-1][1], cut)
            else:
                spans.append((day, at, cut))
            at = cut
    return spans


def _first_and_last(cursor: Any, cid: int, kind: str) -> tuple[datetime, datetime] | None:
    """The first and last of a client's events of a kind: two seeks of the block index."""
    cursor.execute(
        "SELECT (SELECT MIN(occurred_at) FROM operations_event WHERE client_id = %s "
        "AND kind = %s), (SELECT MAX(occurred_at) FROM operations_event WHERE client_id = %s "
        "AND kind = %s)",
        [cid, kind, cid, kind],
    )
    first, last = cursor.fetchone()
    if first is None:
        return None
    return _as_utc(first), _as_utc(last)


# The client's days, as spans of UTC time, joined to its events of a kind: a seek of the
# block index per day, and no time zone work per event. SQLite reads them from a
# temporary table: scanned in rowid order, it groups by `n` without sorting the events (a
# VALUES list, or a day worked out per event, costs a sort; `date()` another 0.7 µs an
# event). INDEXED BY: with statistics (and none for the temporary table, which it then
# takes for a million rows) SQLite built an automatic index of the client's events for
# every statement instead, minutes on 1.7M events. A day in two spans is two groups,
# added up. PostgreSQL takes them as arrays,
# each day a LATERAL aggregate: joined, a planner that thought the client had few events
# read them all once per day.
_DAYS = "activity_days"
_BILLED_DAYS_SQLITE = (
    f"INSERT INTO {_TABLE} (client_id, day, kind, events, quantity) "  # noqa: S608 (constants only)
    "SELECT e.client_id, d.day, e.kind, COUNT(*), SUM(e.quantity) "
    f"FROM temp.{_DAYS} d CROSS JOIN operations_event e INDEXED BY event_block_idx "
    "ON e.client_id = %s AND e.kind = %s "
    "AND e.occurred_at >= d.starts AND e.occurred_at < d.ends WHERE true GROUP BY d.n "
    "ON CONFLICT (client_id, day, kind) DO UPDATE SET "
    f"events = {_TABLE}.events + excluded.events, "
    f"quantity = {_TABLE}.quantity + excluded.quantity"
)
_BILLED_DAYS_POSTGRES = (
    f"INSERT INTO {_TABLE} (client_id, day, kind, events, quantity) "  # noqa: S608 (constants only)
    "SELECT %s::bigint, d.day, %s::varchar, SUM(c.events), SUM(c.quantity) "
    "FROM unnest(%s::date[], %s::timestamptz[], %s::timestamptz[]) AS d (day, starts, ends) "
    "CROSS JOIN LATERAL (SELECT COUNT(*) AS events, SUM(e.quantity) AS quantity "
    "FROM operations_event e WHERE e.client_id = %s AND e.kind = %s "
    "AND e.occurred_at >= d.starts AND e.occurred_at < d.ends) AS c "
    "WHERE c.events > 0 GROUP BY d.day"
)


@transaction.atomic
def rebuild(client_ids: Iterable[int] | None = None) -> int:
    """Replace the totals with a count of the events (the migration's backfill, the
    benchmark's data set, which writes its events by SQL). Returns the rows written.

    Set-based: one `INSERT … SELECT … GROUP BY` per client and kind, joining the client's
    days, as spans of UTC time worked out in Python (`local_days`: the time zone data
    ingestion's `to_days` reads, so the totals never depend on the database's own), to
    its events, counted from the events' (client, kind, occurred_at) index alone.
    `differences` checks them against the hourly recount."""
    ids = list(client_ids) if client_ids is not None else None
    rows = DailyActivity.objects.all()
    if ids is not None:
        rows = rows.filter(client_id__in=ids)
    rows.delete()
    zones = _zones(ids)
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if sqlite:
            cursor.execute(
                f"CREATE TEMP TABLE {_DAYS} (n INTEGER PRIMARY KEY, day TEXT, starts TEXT, ends TEXT)"
            )
        for cid in sorted(zones):
            kinds = {kind: _first_and_last(cursor, cid, kind) for kind in EventKind.values}
            spans = [span for span in kinds.values() if span]
            if not spans:
                continue
            days = local_days(zones[cid], min(s[0] for s in spans), max(s[1] for s in spans))
            if sqlite:
                cursor.execute(f"DELETE FROM temp.{_DAYS}")  # noqa: S608 (constants only)
                cursor.executemany(
                    f"INSERT INTO temp.{_DAYS} (day, starts, ends) VALUES (%s, %s, %s)",  # noqa: S608 (constants only)
                    [(day.isoformat(), _db_time(a), _db_time(b)) for day, a, b in days],
                )
            arrays = [] if sqlite else [list(column) for column in zip(*days, strict=True)]
            for kind in sorted(k for k, span in kinds.items() if span):
                if sqlite:
                    cursor.execute(_BILLED_DAYS_SQLITE, [cid, kind])
                else:
                    cursor.execute(_BILLED_DAYS_POSTGRES, [cid, kind, *arrays, cid, kind])
        if sqlite:
            cursor.execute(f"DROP TABLE temp.{_DAYS}")
    return rows.count()
