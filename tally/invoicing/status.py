"""An invoice's status: the one stored, and the one its client sees, each defined once.

The stored status (`InvoiceStatus`) is the invoice's life: draft, open, paid, void. The
client sees more (`DerivedStatus`): an open invoice may be overdue or partially paid, and
any invoice not void is "disputed" while a dispute on it is open. `RULES` says which is
which, first match wins; from it come the SQL expression that sorts by status, the
conditions that filter by one (stated so that the database can match them with an index
on the stored status and dates), and the status of one invoice already read. A new status
is a member of `DerivedStatus` and its line in `RULES`.

Only issued invoices (with a number) have a client-visible status: `issued()` first.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import and_, gt, lt, or_
from typing import Any

from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class DerivedStatus(models.TextChoices):
    """The status a client sees, most pressing first: the one place that says the order
    of a sort by status (both sides' tables, their CSVs, the status filter's choices).

    Pressing for the one who owes: overdue is late money to pay now; disputed waits on a
    conversation and may still be owed; partially paid and open are owed but not late,
    a remainder before a whole; paid and void ask for nothing.
    """

    OVERDUE = "overdue", "Overdue"
    DISPUTED = "disputed", "Disputed"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"

    @property
    def rank(self) -> int:
        """How pressing it is, for a sort by status: the most pressing ranks highest, so a
        descending sort (what the tables' first click on a column asks for, as the newest
        date and the largest amount first) lists it first."""
        return _RANKS[self]

    @classmethod
    def ranked(cls, rank: int) -> "DerivedStatus":
        """The status of a `rank` (`status_rank` as the database worked it out)."""
        return _BY_RANK[rank]


_RANKS = {status: len(DerivedStatus) - 1 - i for i, status in enumerate(DerivedStatus)}
_BY_RANK = {rank: status for status, rank in _RANKS.items()}

# A client sees the invoices that were issued: never a draft, nor a draft that was voided
# before it was issued (it has no number). The portal's scope applies the same rule
# (portal/scope.py, portal migration 0004); tests/portal hold them together.
ISSUED = Q(number__isnull=False)
# Everything still owed, whatever else it is: not a status of its own.
OUTSTANDING = Q(status=InvoiceStatus.OPEN)
# What an issued invoice's stored status can be.
_ISSUED_STORED = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.VOID})
# A dispute that is still open (disputes.DisputeStatus.OPEN; a test holds them together).
OPEN_DISPUTE = "open"


class _Today:
    """Stands, in a rule, for the day the status is worked out for."""

    def __repr__(self) -> str:
        return "TODAY"


TODAY: Any = _Today()
_COMPARE = {"lt": lt, "gt": gt}


@dataclass(frozen=True)
class Rule:
    """An invoice has `status` when all of these hold (and no earlier rule matched)."""

    status: DerivedStatus
    stored: frozenset[str] | None = None  # its stored status is one of these
    disputed: bool | None = None  # it has an open dispute (True) or has none (False)
    # At least one (column, "lt" or "gt", value or TODAY) holds; none given: no condition.
    any_of: tuple[tuple[str, str, Any], ...] = ()

    def holds_for(self, values: Mapping[str, Any], has_open_dispute: bool, today: date) -> bool:
        if self.stored is not None and values["status"] not in self.stored:
            return False
        if self.disputed is not None and has_open_dispute != self.disputed:
            return False
        return not self.any_of or any(
            values[column] is not None
            and _COMPARE[op](values[column], today if value is TODAY else value)
            for column, op, value in self.any_of
        )


# The client-visible status, first match wins; the last rule matches every invoice.
RULES: tuple[Rule, ...] = (
    Rule(DerivedStatus.VOID, stored=frozenset({InvoiceStatus.VOID})),
    Rule(DerivedStatus.DISPUTED, disputed=True),
    Rule(DerivedStatus.PAID, stored=frozenset({InvoiceStatus.PAID})),
    Rule(DerivedStatus.OVERDUE, any_of=(("due_date", "lt", TODAY),)),
    Rule(
        DerivedStatus.PARTIALLY_PAID,
        any_of=(("allocated_minor", "gt", 0), ("credited_minor", "gt", 0)),
    ),
    Rule(DerivedStatus.OPEN),
)
assert RULES[-1] == Rule(RULES[-1].status), "the last rule must match every invoice"
assert {r.status for r in RULES} == set(DerivedStatus), "every status needs its rule"

# The columns the rules read: what `derived_status` needs of an invoice already read.
STATUS_COLUMNS = ("status", *dict.fromkeys(c for r in RULES for c, _, _ in r.any_of))


def derived_status(values: Mapping[str, Any], has_open_dispute: bool, today: date) -> DerivedStatus:
    """The status of one invoice already read (its `STATUS_COLUMNS`): what `with_status`
    computes in the database."""
    return next(r.status for r in RULES if r.holds_for(values, has_open_dispute, today))


class InvoiceQuerySet(models.QuerySet):
    def issued(self) -> "InvoiceQuerySet":
        """The invoices a client may see: those with a number."""
        return self.filter(ISSUED)

    def outstanding(self) -> "InvoiceQuerySet":
        """Invoices still owed (open, whatever else their client-visible status is)."""
        return self.filter(OUTSTANDING)

    def with_status(self, today: date) -> "InvoiceQuerySet":
        """Annotate `status_rank` (`DerivedStatus.rank`, for sorting) and `derived_status`
        (its value); a read pays only for the one it selects."""
        whens = [(self._rule_condition(r, today), r.status) for r in RULES[:-1]]
        default = RULES[-1].status
        return self.annotate(
            status_rank=Case(
                *(When(c, then=Value(s.rank)) for c, s in whens),
                default=Value(default.rank),
                output_field=IntegerField(),
            ),
            derived_status=Case(
                *(When(c, then=Value(s.value)) for c, s in whens),
                default=Value(default.value),
                output_field=models.CharField(),
            ),
        )

    def status_is(self, *statuses: DerivedStatus | str, today: date) -> "InvoiceQuerySet":
        """Issued invoices whose client-visible status is one of `statuses`."""
        if not statuses:
            return self.none()
        return self.filter(reduce(or_, (self.status_condition(s, today) for s in statuses)))

    def status_condition(self, status: DerivedStatus | str, today: date) -> Q:
        """`status_is` for one status as a condition, to combine with others (issued
        invoices only). Each condition states the stored status it needs and what rules
        out every earlier rule, so the database can match it with an index (status,
        dates) instead of working out every invoice's status."""
        return _EXCLUSIVE[DerivedStatus(status)].to_q(self.open_dispute_condition(), today)

    def _rule_condition(self, rule: Rule, today: date) -> Q:
        return _Condition(rule.stored, rule.disputed, ((True, rule.any_of),)).to_q(
            self.open_dispute_condition(), today
        )

    def open_dispute_condition(self, invoice: str = "pk") -> Q:
        """The invoice has an open dispute: this model's own `pk`, or, on another model,
        the field that points at the invoice (`invoice_id`). The one statement of the
        condition, for every reader: the status rules here, the reminders' pause.

        It is `… IN (…)` rather than a correlated EXISTS: negated, PostgreSQL without
        statistics turned NOT EXISTS into an anti join that read every open dispute once
        per invoice (0.5 s for the benchmark's 4,787 paid invoices of one client); NOT IN
        is a hashed subplan, whatever the estimates."""
        # The disputes app sits above invoicing: reach it through the invoice's reverse
        # relation rather than an import.
        dispute = self.model._meta.get_field("disputes").related_model
        invoices_disputed = dispute._default_manager.filter(status=OPEN_DISPUTE).values(  # type: ignore[union-attr]
            "invoice_id"
        )
        return Q(**{f"{invoice}__in": invoices_disputed})


# -- from the rules to conditions a database can index ----------------------------------
@dataclass(frozen=True)
class _Condition:
    stored: frozenset[str] | None
    disputed: bool | None
    # (holds, comparisons): at least one comparison holds (holds=True) or none does.
    clauses: tuple[tuple[bool, tuple[tuple[str, str, Any], ...]], ...] = ()

    def to_q(self, open_dispute: Q, today: date) -> Q:
        parts: list[Q] = []
        if self.stored is not None:
            stored = sorted(self.stored)
            parts.append(Q(status=stored[0]) if len(stored) == 1 else Q(status__in=stored))
        if self.disputed is not None:
            parts.append(open_dispute if self.disputed else ~open_dispute)
        for holds, any_of in self.clauses:
            if any_of:
                q = reduce(or_, (_compare(c, op, v, today) for c, op, v in any_of))
                parts.append(q if holds else ~q)
        return reduce(and_, parts, Q())


def _compare(column: str, op: str, value: Any, today: date) -> Q:
    return Q(**{f"{column}__{op}": today if value is TODAY else value})


def _exclusive(status: DerivedStatus) -> _Condition:
    """The issued invoices `RULES` gives `status`: its rule, and not any earlier rule.

    Each earlier rule is first reduced to what it adds given what is known (the stored
    statuses left, the dispute state): one that is only a stored status leaves the set,
    one that is only a dispute state fixes the other, one that is only comparisons is
    negated; one that cannot match the same invoice drops out."""
    rule = next(r for r in RULES if r.status == status)
    stored = _ISSUED_STORED & (rule.stored or _ISSUED_STORED)
    disputed = rule.disputed
    clauses = [(True, rule.any_of)]
    for earlier in RULES[: RULES.index(rule)]:
        left: list[str] = []
        if earlier.stored is not None and not stored <= earlier.stored:
            if not stored & earlier.stored:
                continue  # never the same invoice
            left.append("stored")
        if earlier.disputed is not None and disputed is None:
            left.append("disputed")
        elif earlier.disputed is not None and disputed != earlier.disputed:
            continue
        if earlier.any_of:
            left.append("any_of")
        if not left:
            raise ValueError(f"{earlier.status} leaves no invoice to be {status}")
        if left == ["stored"]:
            stored -= earlier.stored or frozenset()
        elif left == ["disputed"]:
            disputed = not earlier.disputed
        elif left == ["any_of"]:
            clauses.append((False, earlier.any_of))
        else:
            raise NotImplementedError(f"{earlier.status} before {status}: {left} together")
    if not stored:
        raise ValueError(f"no issued invoice can be {status}")
    return _Condition(frozenset(stored), disputed, tuple(clauses))


# Worked out once, so that a rule that cannot be stated this way fails on import.
_EXCLUSIVE = {status: _exclusive(status) for status in DerivedStatus}
