"""Keyset pagination: the one paginator every list uses.

A page is the rows after (or before) a position in a fixed order — the list's sort key
and then a unique key (the id), which breaks ties — read with one indexed query whatever
the depth: page 20,000 costs what page 1 costs. Modelled on Sentry's `BasePaginator`:
`paginate()` returns a `CursorResult(results, next, prev)`, where `next` and `prev` are
opaque cursors for the pages on either side (None when there is none).

A cursor is signed (`django.core.signing`, with a salt per list and order), so a client
can neither forge a position nor carry one to another list or sort. A cursor that is
missing, tampered with, expired by a secret-key rotation or from another order is no
cursor: the list starts from its first page, never a 500.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import reduce
from operator import or_
from typing import Any, Generic, TypeVar

from django.core import signing
from django.db.models import Q, QuerySet

T = TypeVar("T")
M = TypeVar("M", bound=Mapping[str, Any])
_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Key:
    """A column of the order. `seek`: also bound the column by the cursor on its own
    (implied by the keyset condition; it is there so that the database seeks the index
    to the cursor instead of walking up to it). Leave it off for a computed column (no
    index to seek) or where the query bounds the column itself."""

    field: str
    seek: bool = True

    def dump(self, value: Any) -> Any:
        return value

    def load(self, raw: Any) -> Any:
        """The value a cursor holds, or ValueError/TypeError."""
        raise NotImplementedError


@dataclass(frozen=True)
class IntKey(Key):
    def load(self, raw: Any) -> int:
        # What a bigint column stores: a larger number would be an error in the database.
        if type(raw) is not int or not -_BIGINT <= raw <= _BIGINT:
            raise ValueError(f"{raw!r} is not a position")
        return raw


@dataclass(frozen=True)
class DateKey(Key):
    def dump(self, value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    def load(self, raw: Any) -> date:
        return date.fromisoformat(raw)


@dataclass(frozen=True)
class DateTimeKey(Key):
    def dump(self, value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    def load(self, raw: Any) -> datetime:
        at = datetime.fromisoformat(raw)
        if at.tzinfo is None:
            raise ValueError(f"{raw!r} has no time zone")
        return at.astimezone(UTC)  # OverflowError at the ends of the calendar


@dataclass(frozen=True)
class Cursor:
    """A position: the key values of a row, and which side of it the page lies."""

    values: tuple[Any, ...]
    backwards: bool  # the page ends just before the row (prev), else starts just after


@dataclass(frozen=True)
class CursorResult(Generic[T]):
    results: list[T]
    next: str | None
    prev: str | None


class KeysetPaginator:
    """Pages of one list in one order. `keys` end with a unique column (the id)."""

    def __init__(self, name: str, keys: Sequence[Key], descending: bool = False) -> None:
        if not keys:
            raise ValueError("a keyset needs at least the unique key")
        self.keys = tuple(keys)
        self.descending = descending
        order = ",".join(k.field for k in self.keys)
        self._salt = f"tally.pagination:{name}:{order}:{'desc' if descending else 'asc'}"

    @property
    def _signer(self) -> signing.Signer:
        # Made when used, so that it signs with the settings' key of the moment. No
        # timestamp (signing.dumps has one): the same position is the same cursor.
        return signing.Signer(salt=self._salt)

    def decode(self, token: str | None) -> Cursor | None:
        """The position a cursor names, or None (start from the first page)."""
        if not token:
            return None
        try:
            payload = self._signer.unsign_object(token)
        except (signing.BadSignature, ValueError, UnicodeDecodeError):
            return None
        if (
            not isinstance(payload, list)
            or len(payload) != len(self.keys) + 1
            or payload[0] not in ("a", "b")
        ):
            return None
        try:
            values = tuple(k.load(v) for k, v in zip(self.keys, payload[1:], strict=True))
        except (TypeError, ValueError, OverflowError):
            return None
        return Cursor(values, backwards=payload[0] == "b")

    def encode(self, row: Mapping[str, Any], backwards: bool = False) -> str:
        """A cursor for the page after `row` (before it, `backwards`)."""
        values = [k.dump(row[k.field]) for k in self.keys]
        return self._signer.sign_object(["b" if backwards else "a", *values])

    def condition(self, cursor: Cursor) -> Q:
        """The rows beyond the cursor in the direction of its page."""
        op = "lt" if self.descending != cursor.backwards else "gt"
        fields = [k.field for k in self.keys]
        beyond = reduce(
            or_,
            (
                Q(**dict(zip(fields[:i], cursor.values[:i], strict=True)))
                & Q(**{f"{fields[i]}__{op}": cursor.values[i]})
                for i in range(len(fields))
            ),
        )
        if self.keys[0].seek and len(self.keys) > 1:
            beyond &= Q(**{f"{fields[0]}__{op}e": cursor.values[0]})
        return beyond

    def paginate(
        self,
        queryset: QuerySet[Any],
        cursor: Cursor | None,
        limit: int,
        columns: Sequence[str],
    ) -> CursorResult[dict[str, Any]]:
        """One page of `queryset` as dicts of `columns` (and the keys, which the cursors
        need): one query of `limit` + 1 rows, at any depth."""
        columns = list(dict.fromkeys([*columns, *(k.field for k in self.keys)]))
        backwards = cursor is not None and cursor.backwards
        if cursor is not None:
            queryset = queryset.filter(self.condition(cursor))
        sign = "-" if self.descending != backwards else ""
        rows = list(
            queryset.order_by(*(sign + k.field for k in self.keys)).values(*columns)[: limit + 1]
        )
        return self._page(rows, cursor, limit)

    def paginate_rows(
        self, rows: Sequence[M], cursor: Cursor | None, limit: int
    ) -> CursorResult[M]:
        """One page of rows read whole (each a mapping with the keys' fields): for a list
        whose order the database cannot give in one indexed query, such as sums worked
        out in Python from one statement. The same pages and cursors as `paginate`."""

        def position(row: M) -> tuple[Any, ...]:
            return tuple(row[k.field] for k in self.keys)

        backwards = cursor is not None and cursor.backwards
        ahead = self.descending == backwards  # the page's rows come in ascending order
        if cursor is not None:
            rows = [
                r
                for r in rows
                if (position(r) > cursor.values if ahead else position(r) < cursor.values)
            ]
        ordered = sorted(rows, key=position, reverse=not ahead)
        return self._page(ordered[: limit + 1], cursor, limit)

    def _page(self, rows: list[M], cursor: Cursor | None, limit: int) -> CursorResult[M]:
        """A page from up to `limit` + 1 rows read beyond the cursor, in the page's
        direction."""
        backwards = cursor is not None and cursor.backwards
        has_more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        next_cursor = prev_cursor = None
        if rows:
            # Going back, the page that led here lies after; going on, the one we came from
            # lies before. From the first page (no cursor) nothing lies before.
            if has_more or backwards:
                next_cursor = self.encode(rows[-1])
            if cursor is not None and (has_more or not backwards):
                prev_cursor = self.encode(rows[0], backwards=True)
        return CursorResult(rows, next_cursor, prev_cursor)
