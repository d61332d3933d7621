"""The event row: what ingestion writes for one event, and the one check every row passes.

`EventRow` names the columns a batch writes, in order; the column list and PostgreSQL's
staging table are derived from it, and the limits a row is checked against (lengths,
kinds, the largest quantity) are read from the `Event` model, so a migration that changes
one changes what ingestion accepts.

`RowCheck` is the only validator. A well-formed row takes a straight-line path
(`_quick`); anything unusual about it sends it to the full check (`_full`), which names
each problem, so the straight line never changes what is accepted or what is said about
a refused row. Both end in `_row`, which builds the database row and its fingerprint.
Every write path — PostgreSQL's COPY, SQLite's pipelined writer, the general path —
takes its rows from here.
"""

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import connection, models

from tally.errors import Problem

from .models import Event


class EventRow(NamedTuple):
    """One event ready for the database, fields in the order of the columns a batch
    writes. The two timestamps are text in the backend's own format; `details` is
    canonical JSON text; `payload_hash` tells a harmless re-send from a conflicting one."""

    client_id: int
    kind: str
    occurred_at: str
    quantity: int
    reference: str
    details: str
    source: str
    external_id: str
    payload_hash: str
    ingested_at: str

    @property
    def key(self) -> "Key":
        """The event's identity: unique per client."""
        return (self.client_id, self.source, self.external_id)


Key = tuple[int, str, str]  # (client_id, source, external_id)
COLUMNS: tuple[str, ...] = EventRow._fields


def staging_table_sql(name: str) -> str:
    """PostgreSQL: a temporary table with a column per `EventRow` field, typed as the
    events table's column, emptied at each commit."""
    by_column = {field.column: field for field in Event._meta.concrete_fields}
    columns = ", ".join(f"{c} {by_column[c].db_type(connection)}" for c in COLUMNS)
    return f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS"


@dataclass(frozen=True)
class Limits:
    """What the events table holds, read from the model."""

    kinds: frozenset[str]
    max_quantity: int
    reference: int
    source: int
    external_id: int

    @classmethod
    def of_model(cls) -> "Limits":
        quantity = _field("quantity").get_internal_type()
        return cls(
            kinds=frozenset(str(value) for value, _ in _field("kind").flatchoices),
            # The column's own range (SQLite's backend reports none for a plain integer).
            max_quantity=connection.ops.integer_field_ranges[quantity][1],
            reference=_max_length("reference"),
            source=_max_length("source"),
            external_id=_max_length("external_id"),
        )


def _field(name: str) -> "models.Field[Any, Any]":
    field = Event._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _max_length(name: str) -> int:
    length = _field(name).max_length
    assert length is not None, f"Event.{name} has no max_length"
    return int(length)


# JSON's escape for NUL, not itself escaped ("\\u0000" is a backslash and "u0000"):
# PostgreSQL's jsonb cannot hold it.
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _json_has_nul(text: str) -> bool:
    return "\\u0000" in text and _JSON_NUL.search(text) is not None


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's parser takes them, and
    neither database stores them in a JSON column."""
    raise ValueError(f"{name} is not a JSON value")


def _parse_details(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse_constant) if text.strip() else {}


# The canonical JSON of a details object: what the events table stores and the fingerprint
# covers, so it must never change (`json.dumps` with these arguments gives the same text).
# Without the check for circular references: a circular object recurses as deep as a
# deeply nested one, and is refused the same way (RecursionError), a tenth faster.
canonical_json: Callable[[Any], str] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), default=str, allow_nan=False, check_circular=False
).encode


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
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise ValueError
    return int(text)


class _Unusual(Exception):
    """The row is not of the common, well-formed shape; let the full check decide."""


# What the straight-line path may run into on an unusual row: the full check decides.
_UNUSUAL = (_Unusual, KeyError, TypeError, ValueError, OverflowError, RecursionError)
_Report = Callable[[str, str], None]  # (field, message)


def _quick_iso(text: Any) -> str:
    """A timestamp given as text with an offset, in UTC, as ISO 8601 text."""
    if type(text) is not str:
        raise _Unusual
    when = datetime.fromisoformat(text)  # takes "Z" for UTC itself
    if when.tzinfo is not UTC:
        if when.tzinfo is None:
            raise _Unusual
        when = when.astimezone(UTC)
    return when.isoformat()


def _quick_details(details: Any) -> str:
    """A details object (or its JSON text, from a CSV) as canonical JSON."""
    if not details:
        return "{}"
    if type(details) is not dict:
        if type(details) is not str:
            raise _Unusual
        details = _parse_details(details)
        if type(details) is not dict:
            raise _Unusual
    text = canonical_json(details)
    if _json_has_nul(text):
        raise _Unusual
    return text


class RowCheck:
    """The check of a batch's rows, shared by every write path: each valid row becomes an
    `EventRow`, each invalid one a list of `Problem`s naming its row and field."""

    def __init__(
        self,
        clients_by_code: Mapping[str, int],
        default_client_id: int | None,
        default_source: str,
        *,
        stamp: str,
        sqlite: bool,
        limits: Limits | None = None,
    ):
        self.limits = limits = limits or Limits.of_model()
        self._clients_by_code = clients_by_code
        self._default_client_id = default_client_id
        self._default_source = default_source
        self._stamp = stamp
        self._sqlite = sqlite
        # Every value of "client" the straight line accepts, and the client it names.
        accepted: dict[Any, int] = {
            code: cid
            for code, cid in clients_by_code.items()
            if default_client_id is None or cid == default_client_id
        }
        if default_client_id is not None:
            accepted[None] = accepted[""] = default_client_id
        self._accepted_clients = accepted
        self._kinds = limits.kinds
        self._max_quantity = limits.max_quantity
        self._longest_external_id = limits.external_id
        self._longest_reference = limits.reference
        self._longest_source = limits.source

    def rows(
        self, raw_rows: Iterable[Mapping[str, Any]], problems: list[Problem], *, fast: bool = True
    ) -> Iterator[EventRow]:
        """The database row of each valid row, as it is checked; problems go to `problems`.

        A generator, so that a write path can store the first rows while the rest are
        still being checked. `fast=False` sends every row through the full check (the
        tests compare the two).
        """
        quick = self._quick if fast else self._never
        full = self._full
        for n, raw in enumerate(raw_rows, start=1):
            try:
                row = quick(raw)
            except _UNUSUAL:
                checked = full(raw, n, problems)
                if checked is None:
                    continue
                row = checked
            yield row

    @staticmethod
    def _never(raw: Mapping[str, Any]) -> EventRow:
        raise _Unusual

    def _row(
        self,
        client_id: int,
        kind: str,
        iso: str,
        quantity: int,
        reference: str,
        details_json: str,
        source: str,
        external_id: str,
    ) -> EventRow:
        """The database row of checked values; `iso` is the UTC time as ISO 8601 text."""
        # The payload's fingerprint, to tell a harmless re-send from a conflicting one.
        material = f"{kind}\x1f{iso}\x1f{quantity}\x1f{reference}\x1f{details_json}"
        return _new_row(
            EventRow,
            (
                client_id,
                kind,
                # As Django stores a timestamp on SQLite: '2026-01-05 12:00:00'.
                iso[:10] + " " + iso[11:-6] if self._sqlite else iso,
                quantity,
                reference,
                details_json,
                source,
                external_id,
                _blake2b(material.encode(), digest_size=16).hexdigest(),
                self._stamp,
            ),
        )

    def _quick(self, raw: Mapping[str, Any]) -> EventRow:
        """The straight line for a well-formed row; raises one of `_UNUSUAL` otherwise."""
        get = raw.get
        client_id = self._accepted_clients[get("client")]
        kind = get("kind")
        if type(kind) is not str or kind not in self._kinds:
            raise _Unusual
        iso = _quick_iso(get("occurred_at"))
        quantity = get("quantity")
        if type(quantity) is not int:
            quantity = _parse_quantity(quantity)
        if not 0 < quantity <= self._max_quantity:
            raise _Unusual
        external_id = str(get("external_id") or "").strip()
        reference = str(get("reference") or "").strip()
        source = str(get("source") or self._default_source).strip()
        if (
            not external_id
            or not source
            or len(external_id) > self._longest_external_id
            or len(reference) > self._longest_reference
            or len(source) > self._longest_source
        ):
            raise _Unusual
        if "\x00" in reference or "\x00" in external_id or "\x00" in source:
            raise _Unusual
        details_json = _quick_details(get("details"))
        return self._row(
            client_id, kind, iso, quantity, reference, details_json, source, external_id
        )

    def _full(self, raw: Mapping[str, Any], n: int, problems: list[Problem]) -> EventRow | None:
        """The full check of one row: its database row, or None after adding its problems.
        Problems are named in the order of the fields, NUL characters after the rest."""
        found = len(problems)

        def report(field: str, message: str) -> None:
            problems.append(Problem(message, field=field, row=n))

        get = raw.get
        client_id = self._check_client(get("client"), report)
        kind = self._check_kind(get("kind"), report)
        when = _check_occurred_at(get("occurred_at"), report)
        quantity = self._check_quantity(get("quantity"), report)
        external_id = self._check_text("external_id", get("external_id"), report, required=True)
        reference = self._check_text("reference", get("reference"), report)
        source = self._check_text("source", get("source") or self._default_source, report)
        details = _check_details_object(get("details"), report)
        for name, value in (
            ("external_id", external_id),
            ("reference", reference),
            ("source", source),
        ):
            if "\x00" in value:
                report(name, "contains a NUL character")
        details_json = _check_details_json(details, report)
        if len(problems) > found:
            return None
        assert client_id is not None and when is not None and details_json is not None
        return self._row(
            client_id,
            kind,
            when.isoformat(),
            quantity,
            reference,
            details_json,
            source,
            external_id,
        )

    def _check_client(self, code: Any, report: _Report) -> int | None:
        default = self._default_client_id
        if code in (None, ""):
            if default is None:
                report("client", "is required")
            return default
        client_id = self._clients_by_code.get(str(code))
        if client_id is None or (default is not None and client_id != default):
            report("client", f"unknown client {code!r}")
        return client_id

    def _check_kind(self, value: Any, report: _Report) -> str:
        kind = str(value or "").strip()
        if kind not in self.limits.kinds:
            expected = ", ".join(sorted(self.limits.kinds))
            report("kind", f"unknown kind {kind!r}; expected one of {expected}")
        return kind

    def _check_quantity(self, value: Any, report: _Report) -> int:
        try:
            quantity = _parse_quantity(value)
        except (TypeError, ValueError):
            report("quantity", f"{value!r} is not a whole number")
            return 0
        if quantity <= 0:
            report("quantity", f"{quantity} is not a positive quantity")
        elif quantity > self.limits.max_quantity:
            report("quantity", f"{quantity} is too large")
        return quantity

    def _check_text(self, name: str, value: Any, report: _Report, required: bool = False) -> str:
        """external_id, reference, source: text, trimmed, no longer than the column."""
        text = str(value or "").strip()
        longest = getattr(self.limits, name)
        if name == "source":  # always has a value: the batch's own
            if not text or len(text) > longest:
                report(name, f"must be 1 to {longest} characters")
        elif required and not text:
            report(name, "is required")
        elif len(text) > longest:
            report(name, f"is longer than {longest} characters")
        return text


def _check_occurred_at(value: Any, report: _Report) -> datetime | None:
    try:
        return _parse_timestamp(value)
    except OverflowError:
        report("occurred_at", f"{value!r} is out of range")
    except (TypeError, ValueError) as e:
        why = str(e) if "time zone" in str(e) else "is not an ISO 8601 timestamp"
        report("occurred_at", f"{value!r} {why}")
    return None


def _check_details_object(value: Any, report: _Report) -> dict[Any, Any]:
    details = value or {}
    if isinstance(details, str):
        try:
            details = _parse_details(details)
        except (ValueError, RecursionError):
            report("details", "is not valid JSON")
            return {}
    if not isinstance(details, dict):
        report("details", "must be a JSON object")
        return {}
    return details


def _check_details_json(details: dict[Any, Any], report: _Report) -> str | None:
    try:
        text = canonical_json(details)
    except ValueError:
        report("details", "holds NaN or Infinity, which are not JSON")
    except RecursionError:
        report("details", "is nested too deeply")
    except TypeError:  # keys JSON cannot hold, or that cannot be sorted (1 and "a")
        report("details", "has keys that are not all text")
    else:
        if not _json_has_nul(text):
            return text
        report("details", "contains a NUL character")
    return None


def validate(
    raw_rows: Iterable[Mapping[str, Any]],
    clients_by_code: Mapping[str, int],
    default_client_id: int | None,
    default_source: str,
    *,
    stamp: str,
    sqlite: bool,
    fast: bool = True,
) -> tuple[list[EventRow], list[Problem]]:
    """Check every row; return the database rows, and every problem found."""
    problems: list[Problem] = []
    check = RowCheck(clients_by_code, default_client_id, default_source, stamp=stamp, sqlite=sqlite)
    return list(check.rows(raw_rows, problems, fast=fast)), problems


_new_row = tuple.__new__  # builds a NamedTuple from a tuple at C speed, as `_make` does
_blake2b = hashlib.blake2b
