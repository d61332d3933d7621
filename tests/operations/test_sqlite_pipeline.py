"""SQLite's pipelined ingestion: a writer thread INSERTs chunks of checked rows while the
caller checks the next. Statements are shortened to 10 rows so that a batch of a few
dozen crosses several of them; the answers must be exactly the general path's."""

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

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


def in_the_database_file(client) -> int:
    """The client's events in the database file itself, read without its WAL."""
    database = Path(connection.settings_dict["NAME"]).resolve()
    with closing(sqlite3.connect(f"{database.as_uri()}?immutable=1", uri=True)) as file_only:
        (stored,) = file_only.execute(
            "SELECT COUNT(*) FROM operations_event WHERE client_id = ?", [client.pk]
        ).fetchone()
    return stored


def _pipelined(client, rows):
    """What the pipelined path itself returns (None: it stored nothing, left it to the
    general path), and the events it left stored."""
    with transaction.atomic():
        result = services._insert_sqlite_while_checking(
            rows, {}, client.pk, "api", "2026-11-29 10:00:00"
        )
    return result, Event.objects.filter(client=client).count()


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
    assert ingest_events(actor=None, client=acme, rows=rows).duplicates == 35


def test_through_the_service_it_is_audited_per_client(acme, globex):
    rows = [*event_rows("label", 20, client=acme.code), *event_rows("stop", 15, client=globex.code)]
    result = ingest_events(actor=None, rows=rows)
    assert (result.created, result.duplicates) == (35, 0)
    audited = AuditEvent.objects.filter(action="events.ingested").order_by("client_id")
    counted = [(a.client_id, json.loads(a.data)["after"]["events"]) for a in audited]
    assert counted == [(acme.pk, 20), (globex.pk, 15)]


def test_a_bad_row_after_chunks_were_written_undoes_them_and_is_named(acme):
    rows = event_rows("pick", 35)
    rows[32]["occurred_at"] = "yesterday"
    assert _pipelined(acme, rows) == (None, 0)
    with pytest.raises(DomainError) as err:
        ingest_events(actor=None, client=acme, rows=rows)
    assert [(p.row, p.field) for p in err.value.problems] == [(33, "occurred_at")]
    assert not Event.objects.exists()


def test_a_key_twice_in_the_batch_is_stored_once(acme):
    rows = event_rows("pick", 35)
    rows[30] = dict(rows[4])
    assert _pipelined(acme, rows) == (None, 0)
    result = ingest_events(actor=None, client=acme, rows=rows)
    assert (result.created, result.duplicates) == (34, 1)


def test_an_event_stored_in_the_middle_of_the_batch_is_a_duplicate(acme):
    rows = event_rows("pick", 35)
    ingest_events(actor=None, client=acme, rows=rows[17:18])
    assert _pipelined(acme, rows) == (None, 1)
    result = ingest_events(actor=None, client=acme, rows=rows)
    assert (result.created, result.duplicates) == (34, 1)


def test_a_re_sent_batch_is_not_written_again(acme):
    rows = event_rows("pick", 35)
    ingest_events(actor=None, client=acme, rows=rows)
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
        ingest_events(actor=None, client=acme, rows=rows)
    assert not Event.objects.exists()
    # The connection is usable afterwards, and the writer thread has ended.
    assert ingest_events(actor=None, client=acme, rows=event_rows("pick", 12)).created == 12


def test_a_bulk_commit_is_checkpointed_by_a_background_thread(tx_db):
    from tally.operations import sqlite_bulk
    from tests.factories import make_client

    acme = make_client("acme")
    rows = event_rows("pick", 2000)
    assert ingest_events(actor=None, client=acme, rows=rows).created == 2000
    sqlite_bulk.wait_for_checkpoint()
    # The WAL is far below SQLite's own checkpoint threshold and the commit was told not
    # to checkpoint: only the background thread can have copied them there.
    assert in_the_database_file(acme) == 2000
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000  # the connection's own setting is back


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
            ingest_events(actor=None, client=acme, rows=rows)
    finally:
        armed[0] = False
        signal.signal(signal.SIGUSR1, previous)
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER slow_insert")
    assert calls[0] >= len(rows) - 45  # the signal was sent
    assert not Event.objects.exists()
    assert not any(t.name == "tally-insert-writer" for t in threading.enumerate())
    assert ingest_events(actor=None, client=acme, rows=rows).created == 300


def test_a_refused_bulk_batch_puts_the_automatic_checkpoint_back(tx_db):
    from tests.factories import make_client

    acme = make_client("acme")
    rows = event_rows("pick", 50)
    rows[40]["quantity"] = -1
    with pytest.raises(DomainError):
        ingest_events(actor=None, client=acme, rows=rows)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000


def test_a_commit_made_while_a_checkpoint_runs_is_checkpointed_by_it(tx_db):
    from tally.operations import sqlite_bulk
    from tests.factories import make_client

    acme = make_client("acme")
    sqlite_bulk.wait_for_checkpoint()
    # As if a checkpoint were running: this commit asks it for another pass.
    sqlite_bulk._idle.clear()
    try:
        assert ingest_events(actor=None, client=acme, rows=event_rows("pick", 40)).created == 40
        assert sqlite_bulk._again
    finally:
        # The running checkpoint's work, done here: its second pass copies the commit.
        sqlite_bulk._checkpoint(str(connection.settings_dict["NAME"]))
    assert sqlite_bulk._idle.is_set() and not sqlite_bulk._again
    assert in_the_database_file(acme) == 40


def test_back_to_back_batches_do_not_grow_the_wal_without_end(tx_db, monkeypatch):
    """A batch that begins while the last one's checkpoint runs cannot restart the WAL;
    once it is past its limit, the next batch waits for the checkpoint and it restarts."""
    from tally.operations import sqlite_bulk
    from tests.factories import make_client

    acme = make_client("acme")
    monkeypatch.setattr(sqlite_bulk, "WAL_FRAMES_BEFORE_WAITING", 50)
    wal = Path(f"{connection.settings_dict['NAME']}-wal")
    sizes = []
    for n in range(12):
        rows = event_rows("pick", 2000, prefix=f"b{n}", details={"note": "x" * 100})
        ingest_events(actor=None, client=acme, rows=rows)
        sizes.append(wal.stat().st_size)
    sqlite_bulk.wait_for_checkpoint()
    assert max(sizes) < 3 * sizes[0], sizes
    assert in_the_database_file(acme) == 24_000
