"""The running totals of a client's events per day and kind, kept by ingestion."""

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.operations import activity
from tally.operations.models import DailyActivity
from tally.operations.services import ingest_csv, ingest_events
from tests.factories import event_rows, make_client

pytestmark = pytest.mark.django_db


def _totals(client):
    return {
        (row.day, row.kind): (row.events, row.quantity)
        for row in DailyActivity.objects.filter(client=client)
    }


def _rows(kind, times, quantity=1, prefix="e"):
    return [
        {
            "kind": kind,
            "occurred_at": t,
            "quantity": quantity,
            "reference": f"R-{prefix}-{i}",
            "external_id": f"{prefix}-{i}",
        }
        for i, t in enumerate(times)
    ]


def test_events_are_totalled_on_the_clients_own_calendar_day(acme):
    ny = make_client("ny", time_zone="America/New_York")
    # 03:30 UTC on 6 October is still 5 October in New York (UTC-4).
    ingest_events(
        actor=SystemActor.TESTS,
        client=ny,
        rows=_rows("pick", ["2026-10-06T03:30:00Z", "2026-10-06T12:00:00Z"], quantity=3),
    )
    assert _totals(ny) == {
        (date(2026, 10, 5), "pick"): (1, 3),
        (date(2026, 10, 6), "pick"): (1, 3),
    }
    assert _totals(acme) == {}
    assert activity.differences() == []


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        # India is UTC+5:30: its midnight falls at 18:30 UTC, inside one UTC hour.
        ("Asia/Kolkata", "2026-10-05T18:29:59Z", "2026-10-05T18:30:00Z"),
        # Nepal is UTC+5:45.
        ("Asia/Kathmandu", "2026-10-05T18:14:59Z", "2026-10-05T18:15:00Z"),
        # New York's clocks go back on 1 November 2026: midnight at 04:00 UTC, then 05:00.
        ("America/New_York", "2026-11-02T04:59:59Z", "2026-11-02T05:00:00Z"),
    ],
)
def test_an_hour_holding_the_clients_midnight_is_split_event_by_event(zone, before, after):
    client = make_client(time_zone=zone)
    ingest_events(
        actor=SystemActor.TESTS, client=client, rows=_rows("label", [before, after, after])
    )
    tz = zoneinfo.ZoneInfo(zone)
    first = datetime.fromisoformat(before).astimezone(tz).date()
    assert _totals(client) == {
        (first, "label"): (1, 1),
        (first + timedelta(days=1), "label"): (2, 2),
    }
    assert activity.differences() == []


def test_sending_the_same_file_again_adds_nothing(acme):
    lines = ["client,kind,occurred_at,quantity,reference,external_id"]
    lines += [f"acme,pick,2026-10-05T{h:02d}:15:00Z,2,SO-{h},ev-{h}" for h in range(24)]
    csv_text = "\n".join(lines) + "\n"
    first = ingest_csv(actor=SystemActor.TESTS, file=csv_text)
    again = ingest_csv(actor=SystemActor.TESTS, file=csv_text)
    assert (first.created, again.created, again.duplicates) == (24, 0, 24)
    assert _totals(acme) == {(date(2026, 10, 5), "pick"): (24, 48)}
    assert activity.differences() == []


def test_a_batch_partly_sent_before_adds_only_its_new_events(acme):
    rows = event_rows("stop", 30, day=date(2026, 10, 7), quantity=2)
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows[:20])
    # The general path: ten new events among twenty stored ones, one of them twice.
    result = ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows + rows[-1:])
    assert (result.created, result.duplicates) == (10, 21)
    assert _totals(acme) == {(date(2026, 10, 7), "stop"): (30, 60)}
    assert activity.differences() == []


def test_a_refused_batch_adds_nothing(acme):
    good = event_rows("pick", 5, day=date(2026, 10, 8))
    bad = [*good, {**good[0], "external_id": "x", "quantity": -1}]
    with pytest.raises(DomainError):
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=bad)
    assert _totals(acme) == {}


def test_the_check_names_a_total_that_differs_from_the_events(acme, globex):
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 3))
    ingest_events(actor=SystemActor.TESTS, client=globex, rows=event_rows("label", 2))
    DailyActivity.objects.filter(client=acme).update(events=4)
    [diff] = activity.differences()
    assert (diff.client_id, diff.kind, diff.stored, diff.recounted) == (
        acme.pk,
        "pick",
        (4, 3),
        (3, 3),
    )
    assert activity.differences([globex.pk]) == []


def test_rebuild_replaces_the_totals_with_a_recount(acme):
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 4))
    kept = _totals(acme)
    DailyActivity.objects.all().delete()
    with connection.cursor() as cursor:  # a stray row the events do not back
        cursor.execute(
            "INSERT INTO operations_dailyactivity (client_id, day, kind, events, quantity) "
            "VALUES (%s, %s, 'stop', 9, 9)",
            [acme.pk, connection.ops.adapt_datefield_value(date(2026, 1, 1))],
        )
    assert activity.rebuild() == 1
    assert _totals(acme) == kept


ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Pacific/Chatham"]
_START = datetime(2026, 3, 1, tzinfo=UTC)
_event = st.tuples(
    st.sampled_from(["pick", "label", "stop", "storage_day"]),
    # Minutes over two months that hold both DST changes of New York and Chatham.
    st.integers(min_value=0, max_value=60 * 24 * 61),
    st.integers(min_value=1, max_value=5),
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    zone=st.sampled_from(ZONES),
    events=st.lists(_event, min_size=1, max_size=60),
    batches=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=4),
    resend=st.booleans(),
)
def test_the_totals_always_equal_a_recount_of_the_events(zone, events, batches, resend):
    client = make_client(time_zone=zone)
    rows = [
        {
            "kind": kind,
            "occurred_at": (_START + timedelta(minutes=minute, seconds=7)).isoformat(),
            "quantity": quantity,
            "reference": f"R-{i}",
            "external_id": f"ev-{i}",
        }
        for i, (kind, minute, quantity) in enumerate(events)
    ]
    at = 0
    for size in batches:
        # Each batch overlaps the one before: some events are re-sent.
        start = max(0, at - size // 2)
        ingest_events(actor=SystemActor.TESTS, client=client, rows=rows[start : at + size])
        at += size
    if resend:
        ingest_events(actor=SystemActor.TESTS, client=client, rows=rows)
    assert activity.differences([client.pk]) == []
    # And by hand, event by event, in the client's zone.
    sent = rows if resend else rows[:at]
    expected: dict = {}
    tz = zoneinfo.ZoneInfo(zone)
    for row in sent:
        key = (datetime.fromisoformat(row["occurred_at"]).astimezone(tz).date(), row["kind"])
        n, q = expected.get(key, (0, 0))
        expected[key] = (n + 1, q + row["quantity"])
    assert _totals(client) == expected


# Zones whose days are hard to cut: half- and quarter-hour offsets, DST, a DST change of
# half an hour (Lord Howe), changes at local midnight (Havana, Beirut), and Santiago,
# whose clocks go back from 24:00 to 23:00: its day runs backwards for an hour.
HARD_ZONES = [
    "UTC",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Australia/Lord_Howe",
    "America/Havana",
    "Asia/Beirut",
    "America/Santiago",
]


def _edges(zone):
    """Instants in 2026 where the zone's day is easy to get wrong: each change of offset
    and the local midnights around it, a microsecond and a second either side."""
    tz = zoneinfo.ZoneInfo(zone)
    changes, at = [], datetime(2026, 1, 1, tzinfo=UTC)
    while at.year == 2026:  # hour by hour, then minute by minute where it changed
        later = at + timedelta(hours=1)
        if at.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            changes += [
                m
                for m in (at + timedelta(minutes=k) for k in range(60))
                if m.astimezone(tz).utcoffset()
                != (m + timedelta(minutes=1)).astimezone(tz).utcoffset()
            ]
        at = later
    moments = []
    for change in changes or [datetime(2026, 6, 15, tzinfo=UTC)]:
        moments.append(change + timedelta(minutes=1))
        local = change.astimezone(tz).date()
        for day in (local - timedelta(days=1), local, local + timedelta(days=1)):
            moments.append(datetime.combine(day, datetime.min.time(), tz).astimezone(UTC))
    return [
        m + delta
        for m in moments
        for delta in (
            -timedelta(seconds=1),
            -timedelta(microseconds=1),
            timedelta(0),
            timedelta(microseconds=1),
            timedelta(seconds=1),
        )
    ]


def test_the_rebuild_equals_a_count_by_hand_in_every_zone(acme):
    clients, expected = {}, {}
    kinds = ["pick", "label", "storage_day"]
    for zone in HARD_ZONES:
        client = clients[zone] = make_client(f"z-{zone.lower().replace('/', '-')}", time_zone=zone)
        tz = zoneinfo.ZoneInfo(zone)
        rows = []
        for i, at in enumerate(sorted(set(_edges(zone)))):
            kind, quantity = kinds[i % 3], 1 + i % 4
            rows.append(
                {
                    "kind": kind,
                    "occurred_at": at.isoformat(),
                    "quantity": quantity,
                    "reference": f"R-{i}",
                    "external_id": f"ev-{i}",
                }
            )
            key = (client.pk, kind, at.astimezone(tz).date())
            n, q = expected.get(key, (0, 0))
            expected[key] = (n + 1, q + quantity)
        ingest_events(actor=SystemActor.TESTS, client=client, rows=rows)
    kept = activity.stored()
    assert kept == expected  # ingestion's totals, as the hand count has them
    DailyActivity.objects.all().delete()
    assert activity.rebuild() == len(expected)
    assert activity.stored() == expected
    # One client's alone: the others' rows stay.
    ny = clients["America/New_York"].pk
    DailyActivity.objects.filter(client_id=ny).update(events=99)
    assert activity.rebuild([ny]) == len([k for k in expected if k[0] == ny])
    assert activity.stored() == expected
    assert activity.differences() == []


def test_the_zones_offsets_change_where_the_time_zone_database_says():
    found = activity.offsets(
        "America/Santiago",
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 31, tzinfo=UTC),
    )
    tz = zoneinfo.ZoneInfo("America/Santiago")
    assert len(found) == 3  # back an hour in April, forward in September
    for start, seconds in found:
        at = start or datetime(2026, 1, 1, tzinfo=UTC)
        assert at.astimezone(tz).utcoffset() == timedelta(seconds=seconds)
        if start is not None:
            assert (start - timedelta(seconds=1)).astimezone(tz).utcoffset() != timedelta(
                seconds=seconds
            )


def test_a_day_the_clocks_went_back_over_is_counted_in_both_its_spans():
    # Casey went from UTC+11 to UTC+8 at 02:00 on 5 March 2010: 5 March, then 4 March
    # again for an hour, then 5 March again.
    casey = make_client("casey", time_zone="Antarctica/Casey")
    times = ["2010-03-04T14:30:00Z", "2010-03-04T15:30:00Z", "2010-03-04T16:30:00Z"]
    ingest_events(actor=SystemActor.TESTS, client=casey, rows=_rows("stop", times, quantity=2))
    DailyActivity.objects.all().delete()
    assert activity.rebuild() == 2
    assert _totals(casey) == {
        (date(2010, 3, 4), "stop"): (1, 2),
        (date(2010, 3, 5), "stop"): (2, 4),
    }
    days = activity.local_days(
        "Antarctica/Casey",
        datetime(2010, 3, 4, 14, tzinfo=UTC),
        datetime(2010, 3, 4, 17, tzinfo=UTC),
    )
    march = [date(2010, 3, d) for d in (4, 5, 4, 5, 6)]  # from the day before to the day after
    assert [day for day, _, _ in days] == march
    assert days[2][1:] == (
        datetime(2010, 3, 4, 15, tzinfo=UTC),
        datetime(2010, 3, 4, 16, tzinfo=UTC),
    )
