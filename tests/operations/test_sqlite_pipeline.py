"""SQLite's pipelined ingestion: a writer thread INSERTs chunks of checked rows while the
caller checks the next. Statements are shortened to 10 rows so that a batch of a few
dozen crosses several of them; the answers must be exactly the general path's."""

import json

import pytest
from django.db import DatabaseError, connection, transaction

from tally.audit.actors import SystemActor
from tally.audit.models import AuditEvent
from tally.errors import DomainError
from tally.operations import services
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tests.factories import event_rows

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite_only]


@pytest.fixture(autouse=True)
def short_statements(monkeypatch):
    monkeypatch.setattr(services, "_ROWS_PER_INSERT", 10)


def _pipelined(client, rows):
    """What the pipelined path itself returns (None: it stored nothing, left it to the
    general path) as events counted per client, and the events it left stored."""
    with transaction.atomic():
        result = services._insert_sqlite_while_checking(
            rows, {}, client.pk, "api", "2026-11-29 10:00:00"
        )
    per_client = None
    if result is not None:
        per_client = {}
        for (cid, _kind, _hour), (n, _q) in result.items():
            per_client[cid] = per_client.get(cid, 0) + n
    return per_client, Event.objects.filter(client=client).count()


def test_a_clean_batch_is_written_in_chunks_while_it_is_checked(acme):
    rows = event_rows("pick", 35, details={"sku": "SKU-9"})
    assert _pipelined(acme, rows) == ({acme.pk: 35}, 35)
    last = Event.objects.get(external_id=rows[-1]["external_id"])  # in the short last chunk
    assert (last.reference, last.details, last.source) == (
        rows[-1]["reference"],
        {"sku": "SKU-9"},
        "api",
    )
    # The same rows through the general path get the same fingerprint.
    assert ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows).duplicates == 35


def test_through_the_service_it_is_audited_per_client(acme, globex):
    rows = [*event_rows("label", 20, client=acme.code), *event_rows("stop", 15, client=globex.code)]
    result = ingest_events(actor=SystemActor.TESTS, rows=rows)
    assert (result.created, result.duplicates) == (35, 0)
    audited = AuditEvent.objects.filter(action="events.ingested").order_by("client_id")
    counted = [(a.client_id, json.loads(a.data)["after"]["events"]) for a in audited]
    assert counted == [(acme.pk, 20), (globex.pk, 15)]


def test_a_bad_row_after_chunks_were_written_undoes_them_and_is_named(acme):
    rows = event_rows("pick", 35)
    rows[32]["occurred_at"] = "yesterday"
    assert _pipelined(acme, rows) == (None, 0)
    with pytest.raises(DomainError) as err:
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    assert [(p.row, p.field) for p in err.value.problems] == [(33, "occurred_at")]
    assert not Event.objects.exists()


def test_a_key_twice_in_the_batch_is_stored_once(acme):
    rows = event_rows("pick", 35)
    rows[30] = dict(rows[4])
    assert _pipelined(acme, rows) == (None, 0)
    result = ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    assert (result.created, result.duplicates) == (34, 1)


def test_an_event_stored_in_the_middle_of_the_batch_is_a_duplicate(acme):
    rows = event_rows("pick", 35)
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows[17:18])
    assert _pipelined(acme, rows) == (None, 1)
    result = ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    assert (result.created, result.duplicates) == (34, 1)


def test_a_re_sent_batch_is_not_written_again(acme):
    rows = event_rows("pick", 35)
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    # The first and last events are stored already: no INSERT is tried.
    assert _pipelined(acme, rows) == (None, 35)


def test_a_database_error_in_the_writer_reaches_the_caller_and_keeps_nothing(acme):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON operations_event "
            "WHEN NEW.reference = 'boom' BEGIN SELECT RAISE(ABORT, 'refused boom'); END"
        )
    rows = event_rows("pick", 35)
    rows[25]["reference"] = "boom"
    with pytest.raises(DatabaseError, match="refused boom"):
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    assert not Event.objects.exists()
    # The connection is usable afterwards, and the writer thread has ended.
    assert (
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 12)).created
        == 12
    )


class Interrupted(BaseException):
    """What a signal handler raises, like KeyboardInterrupt (which would stop pytest)."""


def test_an_interrupt_while_the_writer_finishes_keeps_nothing_of_the_batch(acme):
    """The signal lands while the caller waits at the end of the block for the writer to
    finish its last chunks: the caller rolls back right after, so the writer must be done
    first, or its last statements would be written outside the rolled-back savepoint."""
    import signal
    import threading
    import time

    rows = event_rows("pick", 300)
    main = threading.main_thread().ident
    armed = [True]
    calls = [0]

    def slow_row(_):
        # Each row takes a millisecond to write; with 45 rows left, every chunk has been
        # sent (four wait in the queue) and the caller is at the end of the block.
        calls[0] += 1
        if calls[0] == len(rows) - 45:
            signal.pthread_kill(main, signal.SIGUSR1)
        time.sleep(0.001)
        return 0

    def handler(signum, frame):
        if armed[0]:
            raise Interrupted

    connection.connection.create_function("slow_row", 1, slow_row)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TRIGGER slow_insert BEFORE INSERT ON operations_event "
            "BEGIN SELECT slow_row(NEW.external_id); END"
        )
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with pytest.raises(Interrupted):
            ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    finally:
        armed[0] = False
        signal.signal(signal.SIGUSR1, previous)
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER slow_insert")
    assert calls[0] >= len(rows) - 45  # the signal was sent
    assert not Event.objects.exists()
    assert not any(t.name == "tally-insert-writer" for t in threading.enumerate())
    assert ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows).created == 300
