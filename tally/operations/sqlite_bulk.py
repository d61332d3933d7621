"""Bulk writes on SQLite, the embedded default.

* `InsertWriter` — SQLite has one writer at a time and Python one running thread, but
  SQLite lets go of the GIL while it works: a thread runs multi-row INSERTs while the
  caller checks the next rows, so ingestion uses both cores (bench/RESULTS.md).
* `checkpoint_later` — the bulk write's commit does not wait while the WAL is copied into
  the database: a thread of its own does that afterwards.
"""

import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection

from tally.db.sqlite import pragma_for_the_block

logger = logging.getLogger(__name__)


class _Checkpointer:
    """Copies committed WAL frames into one database file, on a thread of its own,
    whenever asked (SQLite's advice for heavy writers: automatic checkpoints off,
    checkpoints from another thread).

    A PASSIVE checkpoint never waits for a lock and never blocks a reader or a writer: it
    copies what no reader still needs and leaves the rest for the next request. Nothing
    depends on it for correctness: a connection's own automatic checkpoint, or the last
    connection to close, would copy the same frames.

    Each run opens the file afresh (read-write, never creating it) and closes it after: a
    connection kept open would go on checkpointing a file that was since replaced (a
    restored backup) through the new file's shared memory, marking the new WAL's frames as
    copied when they were not, and the next commits would overwrite them.
    """

    _by_process_and_path: dict[tuple[int, str], "_Checkpointer"] = {}
    _lock = threading.Lock()

    def __init__(self, path: str):
        self._uri = Path(path).as_uri() + "?mode=rw"
        self._wanted = threading.Event()
        self.runs = 0
        self._thread = threading.Thread(target=self._run, name="tally-checkpointer", daemon=True)
        self._thread.start()

    @classmethod
    def for_path(cls, path: str) -> "_Checkpointer":
        # By process too: a forked child has the parent's registry but not its threads.
        key = (os.getpid(), path)
        with cls._lock:
            if key not in cls._by_process_and_path:
                cls._by_process_and_path[key] = cls(path)
            return cls._by_process_and_path[key]

    def request(self) -> None:
        self._wanted.set()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            try:
                self._checkpoint()
            except sqlite3.Error:
                # Say, the file was removed: commits checkpoint by themselves as usual.
                logger.warning("checkpoint of %s failed", self._uri, exc_info=True)
            except Exception:  # the thread must live on for the next request
                logger.exception("checkpoint of %s failed unexpectedly", self._uri)
            self.runs += 1

    def _checkpoint(self) -> None:
        raw = sqlite3.connect(self._uri, uri=True, isolation_level=None)
        try:
            _, frames, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            raw.close()
        logger.debug("checkpoint of %s: %d of %d WAL frames copied", self._uri, copied, frames)


def _database_file() -> str | None:
    """The main database's file, or None for an in-memory database."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA database_list")
        files = {name: file for _, name, file in cursor.fetchall()}
    return files.get("main") or None


@contextmanager
def checkpoint_later() -> Iterator[None]:
    """On SQLite, no automatic checkpoint at the block's commits; once the block is done,
    a thread of its own copies the WAL into the database.

    A commit that passes SQLite's automatic threshold (1,000 pages) copies the whole WAL
    into the database and syncs it before it returns; for a batch of events, whose
    entries land all over the reference index, the request waited on that copy
    (bench/RESULTS.md, 2026-11-30). Inside an enclosing transaction the setting is put
    back before the commit, which then checkpoints as usual.
    """
    if connection.vendor != "sqlite":
        yield
        return
    try:
        with pragma_for_the_block("wal_autocheckpoint", 0):
            yield
    finally:
        if not connection.in_atomic_block and (path := _database_file()):
            _Checkpointer.for_path(path).request()


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
        # A daemon, so that a process never hangs at exit on a writer whose block was cut
        # short before its end could run.
        self._thread = threading.Thread(target=self._run, name="tally-insert-writer", daemon=True)
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
                if self._cancelled:
                    continue  # keep taking chunks, so that the caller never waits on a full queue
                if not self._raw.in_transaction:
                    # Only a guard against misuse (each statement would commit alone): what
                    # keeps a statement from landing after the caller's rollback is that
                    # the caller waits for this thread first (`_stop`).
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
        try:
            self._thread.start()
        except BaseException:
            self._cancelled = True
            self._stop()
            raise
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
