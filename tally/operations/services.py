"""Ingesting operational events: validated, idempotent, all-or-nothing.

A batch is checked completely before anything is written; any problem refuses the whole
batch with every problem named by row and field. An event re-sent with the same
`(source, external_id)` and the same payload is counted as a duplicate and stored once;
the same id with a different payload is refused.
"""

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from django.db import connection, transaction
from django.utils import timezone

from tally.audit import services as audit
from tally.clients.models import Client
from tally.errors import DomainError, Problem

from .models import EventKind

KINDS = frozenset(EventKind.values)
CSV_COLUMNS = ("client", "kind", "occurred_at", "quantity", "reference", "external_id")
_CHUNK = 5000


@dataclass(frozen=True)
class IngestResult:
    received: int
    created: int
    duplicates: int


@dataclass(frozen=True)
class _Row:
    client_id: int
    kind: str
    occurred_at: datetime
    quantity: int
    reference: str
    details_json: str
    source: str
    external_id: str
    payload_hash: str


def _parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        raise ValueError("has no time zone offset")
    return dt.astimezone(UTC)


def _parse_quantity(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        q = value
    else:
        text = str(value).strip()
        if not text.lstrip("-").isdigit():
            raise ValueError
        q = int(text)
    return q


def _fingerprint(
    kind: str, occurred_at: datetime, quantity: int, reference: str, details: str
) -> str:
    material = f"{kind}\x1f{occurred_at.isoformat()}\x1f{quantity}\x1f{reference}\x1f{details}"
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


def _validate(
    rows: Iterable[Mapping[str, Any]],
    clients_by_code: dict[str, int],
    default_client_id: int | None,
    default_source: str,
) -> tuple[list[_Row], list[Problem]]:
    parsed: list[_Row] = []
    problems: list[Problem] = []
    for n, raw in enumerate(rows, start=1):
        row_problems = len(problems)
        client_id = default_client_id
        code = raw.get("client")
        if code not in (None, ""):
            client_id = clients_by_code.get(str(code))
            if client_id is None or (
                default_client_id is not None and client_id != default_client_id
            ):
                problems.append(Problem(f"unknown client {code!r}", field="client", row=n))
        elif client_id is None:
            problems.append(Problem("is required", field="client", row=n))
        kind = str(raw.get("kind") or "").strip()
        if kind not in KINDS:
            problems.append(
                Problem(
                    f"unknown kind {kind!r}; expected one of {', '.join(sorted(KINDS))}",
                    field="kind",
                    row=n,
                )
            )
        occurred_at = None
        try:
            occurred_at = _parse_timestamp(raw.get("occurred_at"))
        except (TypeError, ValueError) as e:
            why = str(e) if "time zone" in str(e) else "is not an ISO 8601 timestamp"
            problems.append(
                Problem(f"{raw.get('occurred_at')!r} {why}", field="occurred_at", row=n)
            )
        quantity = 0
        try:
            quantity = _parse_quantity(raw.get("quantity"))
            if quantity <= 0:
                problems.append(
                    Problem(f"{quantity} is not a positive quantity", field="quantity", row=n)
                )
        except (TypeError, ValueError):
            problems.append(
                Problem(f"{raw.get('quantity')!r} is not a whole number", field="quantity", row=n)
            )
        external_id = str(raw.get("external_id") or "").strip()
        if not external_id:
            problems.append(Problem("is required", field="external_id", row=n))
        elif len(external_id) > 128:
            problems.append(Problem("is longer than 128 characters", field="external_id", row=n))
        reference = str(raw.get("reference") or "").strip()
        if len(reference) > 200:
            problems.append(Problem("is longer than 200 characters", field="reference", row=n))
        source = str(raw.get("source") or default_source).strip()
        if not source or len(source) > 64:
            problems.append(Problem("must be 1 to 64 characters", field="source", row=n))
        details = raw.get("details") or {}
        if isinstance(details, str):
            try:
                details = json.loads(details) if details.strip() else {}
            except json.JSONDecodeError:
                problems.append(Problem("is not valid JSON", field="details", row=n))
                details = {}
        if not isinstance(details, dict):
            problems.append(Problem("must be a JSON object", field="details", row=n))
            details = {}
        if len(problems) > row_problems:
            continue
        assert client_id is not None and occurred_at is not None
        details_json = json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)
        parsed.append(
            _Row(
                client_id,
                kind,
                occurred_at,
                quantity,
                reference,
                details_json,
                source,
                external_id,
                _fingerprint(kind, occurred_at, quantity, reference, details_json),
            )
        )
    return parsed, problems


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


def _insert(rows: list[_Row]) -> int:
    now = timezone.now()
    pg = connection.vendor == "postgresql"
    adapt = connection.ops.adapt_datetimefield_value
    details_mark = "%s::jsonb" if pg else "%s"
    sql = (
        "INSERT INTO operations_event (client_id, kind, occurred_at, quantity, reference, details, "  # noqa: S608 (placeholders only)
        "source, external_id, payload_hash, ingested_at) "
        f"VALUES (%s, %s, %s, %s, %s, {details_mark}, %s, %s, %s, %s) "
        "ON CONFLICT (client_id, source, external_id) DO NOTHING"
    )
    stamp = now if pg else adapt(now)
    params = [
        (
            r.client_id,
            r.kind,
            r.occurred_at if pg else adapt(r.occurred_at),
            r.quantity,
            r.reference,
            r.details_json,
            r.source,
            r.external_id,
            r.payload_hash,
            stamp,
        )
        for r in rows
    ]
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(params), _CHUNK):
            cursor.executemany(sql, params[start : start + _CHUNK])
            inserted += max(cursor.rowcount, 0)
    return inserted


def ingest_events(
    *,
    actor: Any,
    rows: Iterable[Mapping[str, Any]],
    client: Client | None = None,
    source: str = "api",
) -> IngestResult:
    """Store a batch of events. Rows name their client by code unless `client` is given."""
    rows = list(rows)
    clients_by_code = dict(Client.objects.values_list("code", "id"))
    parsed, problems = _validate(rows, clients_by_code, client.pk if client else None, source)
    if problems:
        raise DomainError(
            "invalid_events", f"{len(problems)} problem(s); no event was stored", problems
        )

    # Within the batch: one event per key; the same key with another payload is refused.
    unique: dict[tuple[int, str, str], _Row] = {}
    for n, row in enumerate(parsed, start=1):
        key = (row.client_id, row.source, row.external_id)
        seen = unique.get(key)
        if seen is None:
            unique[key] = row
        elif seen.payload_hash != row.payload_hash:
            problems.append(
                Problem(
                    f"external_id {row.external_id!r} appears twice with different data",
                    field="external_id",
                    row=n,
                )
            )
    with transaction.atomic():
        by_scope: dict[tuple[int, str], list[str]] = {}
        for cid, src, ext in unique:
            by_scope.setdefault((cid, src), []).append(ext)
        existing: dict[tuple[int, str, str], str] = {}
        for (cid, src), ids in by_scope.items():
            for ext, digest in _existing_hashes(cid, src, ids).items():
                existing[(cid, src, ext)] = digest
        row_of = {(r.client_id, r.source, r.external_id): n for n, r in enumerate(parsed, start=1)}
        for key, digest in existing.items():
            if unique[key].payload_hash != digest:
                problems.append(
                    Problem(
                        f"external_id {key[2]!r} was already received from {key[1]!r} with different data",
                        field="external_id",
                        row=row_of[key],
                    )
                )
        if problems:
            raise DomainError("conflicting_events", "no event was stored", problems)
        new_rows = [r for k, r in unique.items() if k not in existing]
        created = _insert(new_rows) if new_rows else 0
        if created:
            counts: dict[int, int] = {}
            for r in new_rows:
                counts[r.client_id] = counts.get(r.client_id, 0) + 1
            for cid, count in counts.items():
                audit.record(
                    actor=actor,
                    action="events.ingested",
                    object_type="operations.event",
                    object_id=f"batch:{source}",
                    client_id=cid,
                    after={"events": count, "source": source},
                )
    return IngestResult(received=len(rows), created=created, duplicates=len(rows) - created)


def ingest_csv(
    *, actor: Any, file: TextIO | str, client: Client | None = None, source: str = "csv"
) -> IngestResult:
    """The same as ingest_events, from a CSV file with a header row."""
    handle = io.StringIO(file) if isinstance(file, str) else file
    reader = csv.DictReader(handle)
    header = reader.fieldnames or []
    required = [c for c in CSV_COLUMNS if c != "client" or client is None]
    missing = [c for c in required if c not in header]
    if missing:
        raise DomainError(
            "invalid_csv",
            "the CSV header is missing columns",
            [Problem("missing column", field=c, row=1) for c in missing],
        )
    # Row numbers in errors count the header as row 1, as a spreadsheet shows them.
    rows = list(reader)
    try:
        return ingest_events(actor=actor, rows=rows, client=client, source=source)
    except DomainError as e:
        for p in e.problems:
            if p.row is not None:
                p.row += 1
        raise
