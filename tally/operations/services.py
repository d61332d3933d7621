"""Ingesting operational events: validated, idempotent, all-or-nothing.

A batch is checked completely before anything is written; any problem refuses the whole
batch with every problem named by row and field. An event re-sent with the same
`(source, external_id)` and the same payload is counted as a duplicate and stored once;
the same id with a different payload is refused.

Every row is checked by `rows.RowCheck`, whichever way the batch is written, and
becomes an `rows.EventRow`.

On PostgreSQL the common batch — every row valid and new — is COPYed straight into the
events table while it is being checked, so the server stores rows while Python checks
the next (`_copy_postgres`). Anything else undoes that COPY and takes the general path
(`_store_checked`): check every row, then one statement per batch — on PostgreSQL a COPY
into a temporary table and one `INSERT … SELECT … ON CONFLICT DO NOTHING`, on SQLite one
prepared `executemany`. Conflicting re-sends are looked for only when the database
reports that some rows already existed, and after the insert, so that a concurrent batch
that wins the race for an id is still compared with.
"""

import csv
import io
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.db.sqlite import bigger_cache
from tally.errors import DomainError, Problem

from . import activity, sqlite_bulk
from .activity import HOUR, MINUTE, Tally
from .rows import COLUMNS, EventRow, Key, RowCheck, staging_table_sql, validate

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("client", "kind", "occurred_at", "quantity", "reference", "external_id")
_CHUNK = 5000
_STAGE = "tally_ingest_stage"
# Rows per INSERT statement on SQLite's pipelined path (`_insert_sqlite_while_checking`):
# long enough that the writer thread spends its time in SQLite, without the GIL.
_ROWS_PER_INSERT = 1000
_UNIQUE = "event_unique_source_id_per_client"
# The write paths, as the log names them.
_COPY = "COPY while checking"
_PIPELINE = "the writer thread while checking"
_GENERAL_PG = "the general path (staged COPY, INSERT … SELECT)"
_GENERAL_SQLITE = "the general path (one executemany)"
_DEADLOCK = "40P01"


@dataclass(frozen=True)
class IngestResult:
    received: int
    created: int
    duplicates: int


def _existing_hashes(client_id: int, source: str, ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ",".join(["%s"] * len(chunk))
            cursor.execute(
                "SELECT external_id, payload_hash FROM operations_event "  # noqa: S608 (placeholders only)
                f"WHERE client_id = %s AND source = %s AND external_id IN ({marks})",
                [client_id, source, *chunk],
            )
            found.update(cursor.fetchall())
    return found


def _stored_differently(unique: dict[Key, EventRow]) -> list[Key]:
    """Keys of the batch already stored with another payload (looked up in chunks)."""
    by_scope: dict[tuple[int, str], list[str]] = {}
    for cid, src, ext in unique:
        by_scope.setdefault((cid, src), []).append(ext)
    conflicts = []
    for (cid, src), ids in by_scope.items():
        for ext, digest in _existing_hashes(cid, src, ids).items():
            if unique[(cid, src, ext)].payload_hash != digest:
                conflicts.append((cid, src, ext))
    return conflicts


def _insert_postgres(rows: list[EventRow]) -> tuple[Tally, Callable[[], list[Key]]]:
    """COPY the batch into a temporary table, then one `INSERT … SELECT … ON CONFLICT DO
    NOTHING`: the way for a batch holding events already stored (`_copy_postgres` takes
    the rest).

    Returns the new events counted by client, kind and minute, and how to find the
    batch's conflicting keys.
    """
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(staging_table_sql(_STAGE))
        # Empty even when an enclosing transaction already used it.
        cursor.execute(f"TRUNCATE {_STAGE}")
        with cursor.copy(f"COPY {_STAGE} ({columns}) FROM STDIN") as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        cursor.execute(
            f"WITH new AS (INSERT INTO operations_event ({columns}) "  # noqa: S608 (constants only)
            # In key order, so that two batches holding the same keys wait, not deadlock.
            f"SELECT {columns} FROM {_STAGE} ORDER BY client_id, source, external_id "
            "ON CONFLICT (client_id, source, external_id) DO NOTHING "
            "RETURNING client_id, kind, occurred_at, quantity) "
            "SELECT client_id, kind, to_char(occurred_at AT TIME ZONE 'UTC', "
            "'YYYY-MM-DD HH24:MI'), COUNT(*), SUM(quantity) FROM new GROUP BY 1, 2, 3"
        )
        created: Tally = {(cid, k, t): [int(n), int(q)] for cid, k, t, n, q in cursor.fetchall()}

    def conflicts() -> list[Key]:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT s.client_id, s.source, s.external_id FROM {_STAGE} s "  # noqa: S608 (constants only)
                "JOIN operations_event e ON e.client_id = s.client_id AND e.source = s.source "
                "AND e.external_id = s.external_id WHERE e.payload_hash <> s.payload_hash"
            )
            return [(cid, src, ext) for cid, src, ext in cursor.fetchall()]

    return created, conflicts


def _insert_sqlite(
    rows: list[EventRow], unique: dict[Key, EventRow]
) -> tuple[Tally, Callable[[], list[Key]]]:
    """One prepared INSERT for the whole batch. The transaction holds SQLite's write lock,
    so the events with ids above the previous maximum are exactly this batch's."""
    marks = ", ".join(["%s"] * len(COLUMNS))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM operations_event")
        (before,) = cursor.fetchone()
        cursor.executemany(
            f"INSERT INTO operations_event ({', '.join(COLUMNS)}) VALUES ({marks}) "  # noqa: S608 (placeholders only)
            "ON CONFLICT (client_id, source, external_id) DO NOTHING",
            rows,
        )
        inserted = max(cursor.rowcount, 0)
        if inserted == len(rows):
            every: Tally = {}
            for row in rows:
                activity.count(every, row.client_id, row.kind, row.occurred_at, row.quantity)
            return every, lambda: []
        cursor.execute(
            f"SELECT client_id, kind, substr(occurred_at, 1, {MINUTE}), COUNT(*), SUM(quantity) "  # noqa: S608 (constants only)
            "FROM operations_event WHERE id > %s GROUP BY 1, 2, 3",
            [before],
        )
        created: Tally = {(cid, k, t): [int(n), int(q)] for cid, k, t, n, q in cursor.fetchall()}
    return created, lambda: _stored_differently(unique)


def _share_client_locks(client_ids: set[int]) -> None:
    """Hold the clients' rows in share mode until commit, before any event id is drawn.

    Invoice generation locks the client's row exclusively and then reads the highest
    event id as its watermark; so it waits for these events to commit, and events that
    wait for it get ids above its watermark. (On SQLite every writing transaction holds
    the database's write lock from its start, which serialises the same way.)
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM clients_client WHERE id = ANY(%s) ORDER BY id FOR SHARE",
            [sorted(client_ids)],
        )


class _NotAllNew(Exception):
    """The batch is not the common case of valid rows that are all new."""


def _while_all_valid(
    checked: Iterator[EventRow], problems: list[Problem], created: Tally
) -> Iterator[EventRow]:
    """The checked rows, counted by client, kind and UTC hour (`activity.count`, inlined:
    it runs once per event), for a fast path to store as they come; raises _NotAllNew at
    the first problem (the general path then names them all)."""
    seen = created.get
    for row in checked:
        if problems:
            raise _NotAllNew(f"row {problems[0].row} has a problem")
        key = (row.client_id, row.kind, row.occurred_at[:HOUR])
        counted = seen(key)
        if counted is None:
            created[key] = [1, row.quantity]
        else:
            counted[0] += 1
            counted[1] += row.quantity
        yield row
    if problems:
        raise _NotAllNew(f"row {problems[0].row} has a problem")


def _gave_way(path: str, rows: int, why: object) -> None:
    logger.debug("%s gave a batch of %d rows to the general path: %s", path, rows, why)


def _copy_postgres(
    rows: list[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    source: str,
    stamp: str,
) -> Tally | None:
    """The common case on PostgreSQL: COPY each row into the events table as it passes
    its check, so that the server stores the first rows while Python checks the rest.

    Returns the new events counted (`_while_all_valid`); or None, having stored nothing,
    when the batch is not all valid and new (a problem, a key twice in the batch, an event already stored
    — the unique key refuses the COPY), for the general path to decide row by row.
    """
    if not rows:
        return None
    if _copy_would_fail(rows, clients_by_code, default_client_id, source):
        _gave_way(_COPY, len(rows), "its first or last event is stored, or row security is on")
        return None
    problems: list[Problem] = []
    created: Tally = {}
    check = RowCheck(clients_by_code, default_client_id, source, stamp=stamp, sqlite=False)
    checked = check.rows(rows, problems)
    try:
        with (
            transaction.atomic(),
            connection.wrap_database_errors,
            connection.cursor() as cursor,
            cursor.copy(f"COPY operations_event ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            write = copy.write_row
            for row in _while_all_valid(checked, problems, created):
                write(row)
    except _NotAllNew as e:
        _gave_way(_COPY, len(rows), e)
        return None
    except IntegrityError as e:
        if getattr(getattr(e.__cause__, "diag", None), "constraint_name", None) != _UNIQUE:
            raise
        _gave_way(_COPY, len(rows), "an event is stored already, or twice in the batch")
        return None
    except OperationalError as e:
        # A concurrent batch holding some of the same keys in another order: only this
        # savepoint was rolled back, and the general path inserts in key order.
        if getattr(e.__cause__, "sqlstate", None) != _DEADLOCK:
            raise
        _gave_way(_COPY, len(rows), "a deadlock with a concurrent batch")
        return None
    return created


def _copy_would_fail(
    rows: list[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    source: str,
) -> bool:
    """One round trip before the COPY: is row security in force for this connection (COPY
    refuses such a table), or is the batch's first or last event already stored?"""
    return _ends_already_stored(
        rows, clients_by_code, default_client_id, source, "row_security_active('operations_event')"
    )


def _ends_already_stored(
    rows: list[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    source: str,
    or_also: str = "false",
) -> bool:
    """Is the batch's first or last event already stored (or is `or_also` true)? A feed
    that re-sends a batch, or a window overlapping the last one, would otherwise be
    written in full and then undone: the unique key only tells at the end."""
    probes: list[Any] = []
    for row in (rows[0], rows[-1]):
        code = row.get("client")
        client_id = default_client_id if code in (None, "") else clients_by_code.get(str(code))
        external_id = row.get("external_id")
        row_source = row.get("source") or source
        if client_id is not None and isinstance(external_id, str) and isinstance(row_source, str):
            probes += [client_id, row_source.strip(), external_id.strip()]
    # One lookup of the unique key per probe (SQLite scans the whole index for a row
    # value IN a list).
    one = (
        "EXISTS (SELECT 1 FROM operations_event "
        "WHERE client_id = %s AND source = %s AND external_id = %s)"
    )
    stored = " OR ".join([one] * (len(probes) // 3)) or "0 = 1"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {or_also} OR {stored}", probes)  # noqa: S608 (constants only)
        return bool(cursor.fetchone()[0])


def _insert_sqlite_while_checking(
    rows: list[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    source: str,
    stamp: str,
) -> Tally | None:
    """The common case on SQLite, for a batch longer than one statement: a writer thread
    INSERTs each chunk of checked rows while this thread checks the next.

    Returns the new events counted (`_while_all_valid`); or None, having stored nothing,
    when the batch is not all valid and new, for the general path to decide row by row.
    """
    raw = connection.connection
    per_statement = min(
        _ROWS_PER_INSERT, raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(COLUMNS)
    )
    if len(rows) <= per_statement:
        return None
    if _ends_already_stored(rows, clients_by_code, default_client_id, source):
        _gave_way(_PIPELINE, len(rows), "its first or last event is stored already")
        return None
    problems: list[Problem] = []
    created: Tally = {}
    check = RowCheck(clients_by_code, default_client_id, source, stamp=stamp, sqlite=True)
    checked = check.rows(rows, problems)
    width = per_statement * len(COLUMNS)
    try:
        with transaction.atomic(), connection.wrap_database_errors:
            with sqlite_bulk.InsertWriter(raw, per_statement, COLUMNS) as writer:
                params: list[Any] = []
                extend = params.extend
                for row in _while_all_valid(checked, problems, created):
                    extend(row)
                    if len(params) == width:
                        writer.send(params)
                        params = []
                        extend = params.extend
                if params:
                    writer.send(params)
            if writer.inserted != len(rows):
                raise _NotAllNew(
                    f"{writer.inserted} of {len(rows)} rows stored: a key twice in the batch, "
                    "or one stored meanwhile"
                )
    except _NotAllNew as e:
        _gave_way(_PIPELINE, len(rows), e)
        return None
    return created


def _named_clients(
    rows: list[Mapping[str, Any]], clients_by_code: dict[str, int], default_client_id: int | None
) -> set[int]:
    """The clients a batch names, to lock before any of its events is stored."""
    if default_client_id is not None:
        return {default_client_id}
    # As `_check_row` reads a code: any value, as text (a list from JSON must not raise here).
    codes = {str(code) for code in (row.get("client") for row in rows) if code not in (None, "")}
    return {clients_by_code[code] for code in codes if code in clients_by_code}


def ingest_events(
    *,
    actor: Actor,
    rows: Iterable[Mapping[str, Any]],
    client: Client | None = None,
    source: str = "api",
) -> IngestResult:
    """Store a batch of events. Rows name their client by code unless `client` is given."""
    rows = list(rows)
    clients = Client.objects.values_list("code", "id", "time_zone")
    clients_by_code = {code: cid for code, cid, _ in clients}
    zones = {cid: zone for _, cid, zone in clients}
    default_client_id = client.pk if client else None
    now = timezone.now()
    # The ingestion time, as text in the backend's own format (rows are written raw).
    sqlite = connection.vendor == "sqlite"
    stamp = str(connection.ops.adapt_datetimefield_value(now)) if sqlite else now.isoformat()
    with bigger_cache(), sqlite_bulk.checkpoint_later(), transaction.atomic():
        created_tally, path = _store(rows, clients_by_code, default_client_id, source, stamp)
        # The running totals, in the events' own transaction (`activity`).
        new = activity.to_days(created_tally, zones, activity.stamped_events(stamp))
        activity.add(new)
        created_by_client: Counter[int] = Counter()
        for (cid, _kind, _day), (n, _q) in new.items():
            created_by_client[cid] += n
        for cid, count in sorted(created_by_client.items()):
            audit.record(
                actor=actor,
                action=AuditAction.EVENTS_INGESTED,
                object_type="operations.event",
                object_id=f"batch:{source}",
                client_id=cid,
                after={"events": count, "source": source},
            )
    created = sum(created_by_client.values())
    logger.debug(
        "a batch of %d events from %r: %d new, for %d client(s), stored by %s",
        len(rows),
        source,
        created,
        len(created_by_client),
        path,
    )
    return IngestResult(received=len(rows), created=created, duplicates=len(rows) - created)


def _store(
    rows: list[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    source: str,
    stamp: str,
) -> tuple[Tally, str]:
    """Store the batch by the fastest path that takes it; returns the new events counted
    by client, kind and UTC hour or minute, and the path's name, for the log."""
    if connection.vendor == "postgresql":
        _share_client_locks(_named_clients(rows, clients_by_code, default_client_id))
        created = _copy_postgres(rows, clients_by_code, default_client_id, source, stamp)
        fast, general = _COPY, _GENERAL_PG
    else:
        created = _insert_sqlite_while_checking(
            rows, clients_by_code, default_client_id, source, stamp
        )
        fast, general = _PIPELINE, _GENERAL_SQLITE
    if created is not None:
        return created, fast
    return _store_checked(rows, clients_by_code, default_client_id, source, stamp), general


def _store_checked(
    rows: list[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    source: str,
    stamp: str,
) -> Tally:
    """Check every row, then store the new ones: the general path, which names every
    problem, stores a key repeated in the batch once and skips events already stored."""
    sqlite = connection.vendor == "sqlite"
    parsed, problems = validate(
        rows, clients_by_code, default_client_id, source, stamp=stamp, sqlite=sqlite
    )
    if problems:
        raise DomainError(
            "invalid_events", f"{len(problems)} problem(s); no event was stored", problems
        )

    # Within the batch: one event per key; the same key with another payload is refused.
    unique: dict[Key, EventRow] = {}
    setdefault = unique.setdefault
    for n, row in enumerate(parsed, start=1):
        seen = setdefault(row.key, row)
        if seen is not row and seen.payload_hash != row.payload_hash:
            problems.append(
                Problem(
                    f"external_id {row.external_id!r} appears twice with different data",
                    field="external_id",
                    row=n,
                )
            )
    new_rows = list(unique.values()) if len(unique) < len(parsed) else parsed
    created: Tally = {}
    if problems:
        conflicts = _stored_differently(unique)
    else:
        if connection.vendor == "postgresql":
            # The batch's clients are share-locked already (ingest_events, before the COPY).
            created, find_conflicts = _insert_postgres(new_rows)
        else:
            created, find_conflicts = _insert_sqlite(new_rows, unique)
        stored = sum(n for n, _q in created.values())
        conflicts = find_conflicts() if stored < len(new_rows) else []
    if conflicts:
        # A refused key is named at its last row in the batch.
        row_of = {r.key: n for n, r in enumerate(parsed, start=1)}
        for cid, src, ext in sorted(conflicts, key=lambda k: row_of[k]):
            problems.append(
                Problem(
                    f"external_id {ext!r} was already received from {src!r} with different data",
                    field="external_id",
                    row=row_of[(cid, src, ext)],
                )
            )
    if problems:
        raise DomainError("conflicting_events", "no event was stored", problems)
    return created


def ingest_csv(
    *, actor: Actor, file: TextIO | str, client: Client | None = None, source: str = "csv"
) -> IngestResult:
    """The same as ingest_events, from a CSV file with a header row."""
    handle = io.StringIO(file) if isinstance(file, str) else file
    reader = csv.DictReader(handle)
    rows: list[dict[str, Any]] = []
    try:
        header = reader.fieldnames or []
        rows.extend(reader)
    except UnicodeDecodeError as e:
        raise DomainError(
            "invalid_csv",
            f'the file is not UTF-8 text (byte 0x{e.object[e.start]:02X}): save it as "CSV UTF-8"',
        ) from None
    except csv.Error as e:  # a field past csv.field_size_limit(), say
        # Records, not lines (a quoted field may span lines): the header is row 1.
        raise DomainError(
            "invalid_csv", "the CSV cannot be read", [Problem(str(e), row=len(rows) + 2)]
        ) from None
    required = [c for c in CSV_COLUMNS if c != "client" or client is None]
    missing = [c for c in required if c not in header]
    if missing:
        raise DomainError(
            "invalid_csv",
            "the CSV header is missing columns",
            [Problem("missing column", field=c, row=1) for c in missing],
        )
    # Row numbers in errors count the header as row 1, as a spreadsheet shows them.
    try:
        return ingest_events(actor=actor, rows=rows, client=client, source=source)
    except DomainError as e:
        for p in e.problems:
            if p.row is not None:
                p.row += 1
        raise
