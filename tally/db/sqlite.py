"""SQLite tuning shared by the apps that write in bulk (ingestion, invoice generation).

Each helper does nothing on another database, and puts back what it changed.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


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
    with pragma_for_the_block("cache_size", -int(mib) * 1024):
        yield


@contextmanager
def pragma_for_the_block(name: str, value: int) -> Iterator[None]:
    """A connection's PRAGMA set for the length of the block, then put back as it was."""
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA {name} = {int(value)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA {name} = {int(previous)}")
