"""SQLite: a batch of events commits without copying the WAL into the database, and a
thread of its own does that afterwards (`sqlite_bulk.checkpoint_later`)."""

import logging
import shutil
import sqlite3
import time

import pytest
from django.db import connection, transaction

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.operations import sqlite_bulk
from tally.operations.services import ingest_events
from tests.factories import event_rows, make_client

pytestmark = [pytest.mark.sqlite_only, pytest.mark.usefixtures("tx_db")]


def _autocheckpoint() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return cursor.fetchone()[0]


def _events_in_the_database_file_alone(tmp_path) -> int:
    """Events in a copy of the main file without its WAL: what checkpoints have copied."""
    copy = tmp_path / "main-file-only.sqlite3"
    shutil.copyfile(sqlite_bulk._database_file(), copy)
    raw = sqlite3.connect(copy)
    try:
        return raw.execute("SELECT COUNT(*) FROM operations_event").fetchone()[0]
    finally:
        raw.close()


def _wait_for_a_run_after(checkpointer: sqlite_bulk._Checkpointer, runs: int) -> None:
    deadline = time.monotonic() + 20
    while checkpointer.runs == runs and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer.runs > runs


def test_a_batch_commits_without_a_checkpoint_and_a_thread_copies_it_after(tmp_path):
    client = make_client("acme")
    path = sqlite_bulk._database_file()
    checkpointer = sqlite_bulk._Checkpointer.for_path(path)
    with connection.cursor() as cursor:
        # Everything so far in the database file; from here the WAL holds what follows.
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # Any commit past one page would otherwise checkpoint on its own.
        cursor.execute("PRAGMA wal_autocheckpoint = 1")
    runs = checkpointer.runs
    checkpointer._wanted.clear()
    assert _events_in_the_database_file_alone(tmp_path) == 0

    result = ingest_events(actor=SystemActor.TESTS, client=client, rows=event_rows("pick", 3000))

    assert result.created == 3000
    assert _autocheckpoint() == 1  # put back as it was
    _wait_for_a_run_after(checkpointer, runs)
    assert _events_in_the_database_file_alone(tmp_path) == 3000
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint = 1000")


def test_inside_an_enclosing_transaction_the_commit_checkpoints_as_usual(tmp_path):
    client = make_client("acme")
    checkpointer = sqlite_bulk._Checkpointer.for_path(sqlite_bulk._database_file())
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("PRAGMA wal_autocheckpoint = 1")
    runs = checkpointer.runs
    with transaction.atomic():
        ingest_events(actor=SystemActor.TESTS, client=client, rows=event_rows("label", 3000))
        assert _autocheckpoint() == 1  # back before the enclosing commit
    # The enclosing commit checkpointed by itself; the thread was not asked.
    assert _events_in_the_database_file_alone(tmp_path) == 3000
    time.sleep(0.2)
    assert checkpointer.runs == runs
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint = 1000")


def test_a_refused_batch_puts_the_setting_back():
    client = make_client("acme")
    rows = event_rows("pick", 5)
    rows[3]["quantity"] = "many"
    with pytest.raises(DomainError):
        ingest_events(actor=SystemActor.TESTS, client=client, rows=rows)
    assert _autocheckpoint() == 1000


def _checkpoint_and_wait(checkpointer: sqlite_bulk._Checkpointer) -> None:
    runs = checkpointer.runs
    checkpointer.request()
    _wait_for_a_run_after(checkpointer, runs)


def test_a_database_file_replaced_under_the_checkpointer_loses_nothing(tmp_path):
    """A backup moved over the database file while the process runs (a restore): the
    checkpointer must not go on copying into the old file through the new file's shared
    memory, which marked new commits as copied and let later ones overwrite them."""
    path = tmp_path / "tally.sqlite3"

    def writer() -> sqlite3.Connection:
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA wal_autocheckpoint = 0")  # as during a batch
        return raw

    def add(raw: sqlite3.Connection, tag: str, n: int = 5000) -> None:
        raw.execute("BEGIN")
        raw.executemany(
            "INSERT INTO event VALUES (?)", ((f"{tag}-{i:05d}-" + "x" * 40,) for i in range(n))
        )
        raw.execute("COMMIT")

    checkpointer = sqlite_bulk._Checkpointer(str(path))
    first = writer()
    first.execute("CREATE TABLE event (reference TEXT)")
    add(first, "a")
    _checkpoint_and_wait(checkpointer)
    backup = sqlite3.connect(tmp_path / "backup.sqlite3")
    first.backup(backup)
    backup.close()
    add(first, "b")
    _checkpoint_and_wait(checkpointer)
    first.close()
    (tmp_path / "backup.sqlite3").replace(path)

    second = writer()
    for tag in "cdef":
        add(second, tag)
        _checkpoint_and_wait(checkpointer)
    second.close()
    fresh = sqlite3.connect(path)
    assert fresh.execute("SELECT count(*) FROM event").fetchone() == (5 * 5000,)
    fresh.close()


def test_a_checkpoint_that_fails_is_logged_and_the_thread_lives_on(tmp_path, caplog):
    gone = tmp_path / "removed.sqlite3"  # opened read-write, never created: it fails
    checkpointer = sqlite_bulk._Checkpointer.for_path(str(gone))
    caplog.set_level(logging.WARNING, logger="tally.operations.sqlite_bulk")
    for attempt in range(2):
        runs = checkpointer.runs
        checkpointer.request()
        _wait_for_a_run_after(checkpointer, runs)
        failures = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(failures) == attempt + 1
        assert "checkpoint of" in failures[-1].getMessage() and failures[-1].exc_info
