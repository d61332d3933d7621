"""The event row: one type for what a batch writes, checked by one validator whose limits
are the model's, with the same answer for a bad row whichever path the batch took."""

import logging

import pytest
from django.db import connection

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.operations import services
from tally.operations.models import Event
from tally.operations.rows import COLUMNS, EventRow, Limits, staging_table_sql, validate
from tests.factories import event_rows

VALID = {
    "client": "acme",
    "kind": "pick",
    "occurred_at": "2026-10-05T12:00:00Z",
    "quantity": 2,
    "reference": "ORD-1",
    "external_id": "e-1",
    "details": {"sku": "A"},
}
CLIENTS = {"acme": 1}


def _check(rows, fast):
    parsed, problems = validate(rows, CLIENTS, None, "api", stamp="now", sqlite=True, fast=fast)
    return parsed, [(p.row, p.field, p.message) for p in problems]


def test_the_row_type_names_every_column_a_batch_writes():
    written = {
        f.column for f in Event._meta.concrete_fields if not f.primary_key and not f.generated
    }
    assert set(COLUMNS) == written
    assert COLUMNS == EventRow._fields


def test_a_checked_row_is_read_by_name():
    (row,), problems = _check([{**VALID, "source": " wms "}], fast=True)
    assert problems == []
    assert (row.client_id, row.kind, row.occurred_at, row.quantity) == (
        1,
        "pick",
        "2026-10-05 12:00:00",
        2,
    )
    assert (row.reference, row.details, row.source, row.external_id) == (
        "ORD-1",
        '{"sku":"A"}',
        "wms",
        "e-1",
    )
    assert row.key == (1, "wms", "e-1")


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("reference", "is longer than 5 characters"),
        ("external_id", "is longer than 5 characters"),
        ("source", "must be 1 to 5 characters"),
    ],
)
def test_length_limits_are_the_models_own(monkeypatch, field, message):
    monkeypatch.setattr(Event._meta.get_field(field), "max_length", 5)
    fits, too_long = {**VALID, field: "x" * 5}, {**VALID, field: "y" * 6, "external_id": "e-2"}
    if field == "external_id":
        too_long["external_id"] = "y" * 6
    for fast in (True, False):
        parsed, problems = _check([fits, too_long], fast)
        assert [getattr(row, field) for row in parsed] == ["x" * 5]
        assert problems == [(2, field, message)]


def test_kinds_are_the_models_choices(monkeypatch):
    monkeypatch.setattr(Event._meta.get_field("kind"), "choices", [("pick", "Pick")])
    for fast in (True, False):
        parsed, problems = _check([VALID, {**VALID, "kind": "label", "external_id": "e-2"}], fast)
        assert [row.kind for row in parsed] == ["pick"]
        assert problems == [(2, "kind", "unknown kind 'label'; expected one of pick")]


def test_the_largest_quantity_is_the_columns_own():
    assert Limits.of_model().max_quantity == 2**63 - 1
    for fast in (True, False):
        parsed, problems = _check(
            [{**VALID, "quantity": 2**63 - 1}, {**VALID, "quantity": 2**63}], fast
        )
        assert [row.quantity for row in parsed] == [2**63 - 1]
        assert problems == [(2, "quantity", f"{2**63} is too large")]


def test_details_with_keys_json_cannot_sort_are_a_problem_not_a_crash():
    for fast in (True, False):
        parsed, problems = _check([{**VALID, "details": {1: "a", "b": 2}}], fast)
        assert parsed == []
        assert problems == [(1, "details", "has keys that are not all text")]


def test_details_that_hold_themselves_are_refused_as_nested_too_deeply():
    circular = {"sku": "A"}
    circular["self"] = circular
    for fast in (True, False):
        parsed, problems = _check([{**VALID, "details": circular}], fast)
        assert parsed == []
        assert problems == [(1, "details", "is nested too deeply")]


@pytest.mark.postgres_only
@pytest.mark.django_db
def test_the_staging_table_has_the_events_columns_with_their_types():
    def types(table):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            return dict(cursor.fetchall())

    with connection.cursor() as cursor:
        cursor.execute(staging_table_sql("test_stage"))
    events = types("operations_event")
    assert types("test_stage") == {c: events[c] for c in COLUMNS}


BAD = [
    ({"kind": "teleport"}, "kind", "unknown kind 'teleport'; expected one of "),
    ({"quantity": "two"}, "quantity", "'two' is not a whole number"),
    ({"occurred_at": "2026-10-01T10:00:00"}, "occurred_at", "has no time zone offset"),
    ({"reference": "R" * 201}, "reference", "is longer than 200 characters"),
    ({"external_id": ""}, "external_id", "is required"),
    ({"details": {"note": "a\x00b"}}, "details", "contains a NUL character"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "field", "message"), BAD)
def test_a_bad_row_gets_the_same_problem_whichever_path_the_batch_started_on(
    acme, monkeypatch, caplog, change, field, message
):
    # A batch of new events starts on the fast path (COPY on PostgreSQL, the writer
    # thread on SQLite, whose statements are shortened here) and gives way at the bad
    # row; a batch that opens with an event already stored takes the general path.
    monkeypatch.setattr(services, "_ROWS_PER_INSERT", 10)
    caplog.set_level(logging.DEBUG, logger="tally.operations.services")
    stored = event_rows("pick", 1, prefix="stored")
    services.ingest_events(actor=SystemActor.TESTS, client=acme, rows=stored)
    answers, why = [], []
    for first in (event_rows("pick", 1), stored):
        rows = [*first, *event_rows("pick", 29), {**event_rows("pick", 1)[0], **change}]
        caplog.clear()
        with pytest.raises(DomainError) as err:
            services.ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
        answers.append([(p.row, p.field, p.message) for p in err.value.problems])
        why += [r.getMessage().split(": ", 1)[1] for r in caplog.records if "gave" in r.msg]
    assert answers[0] == answers[1]
    assert [p[:2] for p in answers[0]] == [(31, field)]
    assert message in answers[0][0][2]
    assert why[0] == "row 31 has a problem"
    assert why[1].startswith("its first or last event is stored")
    assert Event.objects.count() == 1
