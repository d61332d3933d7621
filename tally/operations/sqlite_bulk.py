"""Bulk writes on SQLite, the embedded default: what lets one process use both cores.

SQLite has one writer at a time and Python one running thread, but SQLite lets go of the
GIL while it works. So a bulk write is split across threads (bench/RESULTS.md):

* `InsertWriter` — a thread running multi-row INSERTs while the caller checks the next
  rows (ingestion);
* `checkpoint_in_background` — the commit's WAL checkpoint (copying the written pages
  into the database file, and two fsyncs) is done by a thread on a connection of its
  own, not by the committing request;
* `bigger_cache` — a page cache that holds one bulk write's pages.

Everything here does nothing on PostgreSQL.
"""

import logging
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection

logger = logging.getLogger(__name__)


@contextmanager
def bigger_cache(mib: int = 256) -> Iterator[None]:
    """On SQLite, a page cache big enough for one bulk write, for the length of the block.

    SQLite's default cache is 2 MiB: a batch that touches more pages than that (every
    index of a large events table does) spills them to the WAL in mid-transaction and
    reads them back. The cache only grows as pages are used, and the previous size is put
    back afterwards.
    """
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = {-int(mib) * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


class InsertWriter:
    """A thread that runs multi-row INSERTs on SQLite's connection while the caller's
    thread checks the next rows.

    The caller's thread must not use the connection until the block ends: the end of the
    block waits for the writer to finish, even through an interrupt (KeyboardInterrupt, a
    signal handler's SystemExit), because the caller rolls back right after and a
    statement run after that would be committed on its own. An error in the writer is
    raised in the caller's thread, by `send` or at the end of the block. Once the block
    fails or the writer errs, the writer drops whatever is still queued. Its statements
    bypass Django's cursor wrappers (`connection.queries` does not list them).
    """

    def __init__(self, raw: sqlite3.Connection, rows_per_statement: int, columns: Sequence[str]):
        self._raw = raw
        self._rows_per_statement = rows_per_statement
        self._columns = tuple(columns)
        self._chunks: queue.Queue[list[Any] | None] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._run, name="tally-insert-writer")
        self._cancelled = False
        self.inserted = 0
        self.error: BaseException | None = None

    def _statement(self, n_rows: int) -> str:
        one = "(" + ", ".join(["?"] * len(self._columns)) + ")"
        return (
            f"INSERT INTO operations_event ({', '.join(self._columns)}) "  # noqa: S608 (constants only)
            f"VALUES {', '.join([one] * n_rows)} "
            "ON CONFLICT (client_id, source, external_id) DO NOTHING"
        )

    def _run(self) -> None:
        cursor = None
        try:
            cursor = self._raw.cursor()
            full = self._statement(self._rows_per_statement)
            while (params := self._chunks.get()) is not None:
                if self.error is not None or self._cancelled:
                    continue  # keep taking chunks, so that the caller never waits on a full queue
                if not self._raw.in_transaction:
                    # Outside the caller's transaction each statement would commit alone.
                    raise sqlite3.ProgrammingError("the insert writer ran outside a transaction")
                n_rows = len(params) // len(self._columns)
                sql = full if n_rows == self._rows_per_statement else self._statement(n_rows)
                cursor.execute(sql, params)
                self.inserted += cursor.rowcount
        except BaseException as e:  # noqa: BLE001 (raised again in the caller's thread)
            self.error = e
            while self._chunks.get() is not None:  # the caller may still be sending
                pass
        finally:
            if cursor is not None:
                cursor.close()

    def send(self, params: list[Any]) -> None:
        """Queue one statement's rows, flattened; waits while four are queued."""
        if self.error is not None:
            raise self.error
        self._chunks.put(params)

    def __enter__(self) -> "InsertWriter":
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is not None:
            self._cancelled = True
        interrupted = self._stop()
        if interrupted is not None:
            raise interrupted
        if exc is None and self.error is not None:
            raise self.error

    def _stop(self) -> BaseException | None:
        """Send the end and wait for the thread to finish, whatever interrupts the wait;
        returns the first interruption, to be raised once the thread is done."""
        interrupted: BaseException | None = None
        ended = False
        while self._thread.is_alive():
            try:
                if not ended:
                    self._chunks.put(None)
                    ended = True
                self._thread.join()
            except BaseException as e:  # noqa: BLE001 (raised again once the writer is done)
                self._cancelled = True
                interrupted = interrupted or e
        return interrupted


# The background checkpoint: at most one thread at a time per process. A commit made
# while it runs asks for another pass (`_again`), which the running thread makes before
# it ends, so every bulk commit is checkpointed.
_state = threading.Lock()
_idle = threading.Event()
_idle.set()
_again = False
# The WAL's length in frames after the last checkpoint: a bulk transaction that begins
# while a checkpoint is running reads a snapshot the WAL cannot be restarted under, so
# back-to-back batches would grow it without end. Past this length the next bulk
# transaction waits for the running checkpoint first, and the WAL restarts from its head.
WAL_FRAMES_BEFORE_WAITING = 65_536  # 256 MiB of 4 KiB pages
_wal_frames = 0


@contextmanager
def checkpoint_in_background(*, when: bool = True) -> Iterator[None]:
    """Around a bulk transaction on SQLite: its commit does not checkpoint the WAL in
    this thread; a background thread does, right after, on a connection of its own.

    SQLite checkpoints in the committing connection once the WAL passes 1,000 pages: after
    a batch of 20,000 events that is a third of the request's time. A PASSIVE checkpoint
    blocks no reader or writer, so the next batch is checked and written meanwhile. Does
    nothing inside an enclosing transaction (the commit is not this block's), for an
    in-memory database, or when `when` is false.
    """
    if (
        not when
        or connection.vendor != "sqlite"
        or connection.in_atomic_block
        or connection.is_in_memory_db()  # type: ignore[attr-defined]
    ):
        yield
        return
    if _wal_frames > WAL_FRAMES_BEFORE_WAITING:
        wait_for_checkpoint()
    previous = None
    committed = False
    try:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            (previous,) = cursor.fetchone()
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
        yield
        committed = True
    finally:
        if previous is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA wal_autocheckpoint = {int(previous)}")
        if committed:
            _checkpoint_soon(str(connection.settings_dict["NAME"]))


def _checkpoint_soon(path: str) -> None:
    global _again
    with _state:
        if not _idle.is_set():
            _again = True
            return
        _idle.clear()
    try:
        threading.Thread(
            target=_checkpoint, args=(path,), name="tally-wal-checkpoint", daemon=True
        ).start()
    except BaseException:
        _idle.set()
        raise


def _checkpoint(path: str) -> None:
    global _again, _wal_frames
    try:
        while True:
            try:
                # mode=rw: a database removed meanwhile (a test run's) is not made again.
                uri = f"{Path(path).resolve().as_uri()}?mode=rw"
                db = sqlite3.connect(uri, uri=True, timeout=20)
                try:
                    _busy, frames, _copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    _wal_frames = frames
                finally:
                    db.close()
            except sqlite3.Error:
                # Nothing is lost: the WAL holds the commit, and the next checkpoint (this
                # process's or any connection's automatic one) copies it.
                logger.exception("background WAL checkpoint of %s failed", path)
            with _state:
                if not _again:
                    _idle.set()
                    return
                _again = False
    except BaseException:
        _idle.set()
        raise


def wait_for_checkpoint() -> None:
    """Until the background checkpoint, if one is running, has finished (the benchmark
    counts its time; tests read the database file after it)."""
    _idle.wait()
