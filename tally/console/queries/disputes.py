"""What the console reads. It sees every client: it is not in the client scope, and it
never reads through the portal's query layer (an import contract keeps them apart).

Each function returns plain read models built from explicit columns. A dispute's lines,
its conversation and the conversation's last word are the disputes app's reads
(`tally.disputes.queries`), which see every client too; the desk and its counts are the
console's own.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from tally.disputes.models import (
    AuthorSide,
    Dispute,
    DisputeLine,
    DisputeMessage,
    DisputeStatus,
    Resolution,
)
from tally.disputes.queries import (
    DisputedLine,
    MessageRow,
    conversation,
    disputed_lines,
    last_message,
)
from tally.disputes.queries import attachment_file as attachment_file  # the download's read
from tally.internal_notes.queries import NoteRow, notes_for_dispute
from tally.invoicing.naming import format_credit_note_number, invoice_name
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator

# How many open disputes a page of the desk lists, oldest first.
DESK_LIMIT = 50


class Turn:
    """Whose move it is on an open dispute."""

    OPERATOR = "operator"  # the client spoke last: the 3PL owes an answer
    CLIENT = "client"  # the 3PL spoke last: waiting for the client


class DeskOwner(StrEnum):
    """Which open disputes the desk lists, by who owns them."""

    ALL = "all"
    MINE = "mine"
    UNOWNED = "unowned"

    @property
    def label(self) -> str:
        return {"all": "All", "mine": "Mine", "unowned": "Unowned"}[self.value]

    @classmethod
    def parse(cls, value: str | None) -> "DeskOwner":
        """The URL's `owner=`; anything else is all of them, never an error."""
        try:
            return cls(value or cls.ALL)
        except ValueError:
            return cls.ALL


@dataclass(frozen=True)
class DeskRow:
    id: int
    client_name: str
    client_code: str
    invoice_number: str
    currency: str
    at_stake_minor: int
    opened_at: datetime
    age_days: int
    turn: str
    last_message_at: datetime | None
    owner_id: int | None
    owner_name: str | None
    answered_before: bool  # the 3PL has written in the conversation already

    @property
    def news(self) -> str | None:
        """What the client did that waits for us: a new dispute, or a new message."""
        if self.turn != Turn.OPERATOR:
            return None
        return "New message from the client" if self.answered_before else "New dispute"


@dataclass(frozen=True)
class Desk:
    rows: list[DeskRow]
    total: int  # open disputes in all
    waiting: int  # of which the 3PL owes an answer
    next_cursor: str | None
    prev_cursor: str | None


@dataclass(frozen=True)
class InvoiceSummary:
    id: int
    number: str
    status: str
    currency: str
    period_start: date
    period_end: date
    issue_date: date | None
    due_date: date | None
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    allocated_minor: int
    credited_minor: int
    balance_minor: int

    @property
    def creditable_minor(self) -> int:
        """What a credit may reach: what it billed less earlier credits (beyond the balance,
        the payments come back as the client's unapplied credit); nothing once void."""
        if self.status not in ("open", "paid"):
            return 0
        return self.total_minor - self.credited_minor


@dataclass(frozen=True)
class DisputePage:
    id: int
    client_id: int
    client_name: str
    client_code: str
    status: str
    reason: str
    amount_minor: int | None  # what the client named, if anything
    at_stake_minor: int
    opened_at: datetime
    opened_by: str
    turn: str
    owner_id: int | None
    owner_name: str | None
    owned_since: datetime | None
    previous_owner_name: str | None
    resolution: str
    resolution_label: str
    resolution_summary: str
    resolved_at: datetime | None
    resolved_by: str | None
    credit_note_number: str | None
    credit_note_amount_minor: int | None
    invoice: InvoiceSummary
    lines: list[DisputedLine]
    messages: list[MessageRow]
    notes: list[NoteRow]

    @property
    def is_open(self) -> bool:
        return self.status == DisputeStatus.OPEN

    @property
    def suggested_credit_minor(self) -> int:
        """What a credited resolution starts from: the amount at stake, within what the
        invoice can still be credited (beyond its balance, as unapplied credit)."""
        return max(0, min(self.at_stake_minor, self.invoice.creditable_minor))


def _at_stake(qs: QuerySet[Dispute]) -> Any:  # a QuerySet the type checker cannot follow
    """Annotate the amount at stake (what the client named, else the disputed lines' sum,
    else the invoice's total) and the conversation's last word: its side and time."""
    lines_sum = (
        DisputeLine.objects.filter(dispute=OuterRef("pk"))
        .values("dispute")
        .annotate(s=Sum("line__amount_minor"))
        .values("s")
    )
    answered = DisputeMessage.objects.filter(
        dispute=OuterRef("pk"), author_side=AuthorSide.OPERATOR
    )
    return qs.annotate(
        at_stake=Coalesce(
            F("amount_minor"),
            Subquery(lines_sum, output_field=IntegerField()),
            F("invoice__total_minor"),
            Value(0),
        ),
        last_side=last_message("author_side"),
        last_at=last_message("created_at"),
        answered=Exists(answered),
    )


def _turn(last_side: str | None) -> str:
    return Turn.CLIENT if last_side == AuthorSide.OPERATOR else Turn.OPERATOR


DESK_PAGES = KeysetPaginator("console.disputes", [DateTimeKey("opened_at"), IntKey("id")])
_DESK_COLUMNS = (
    "id",
    "client__name",
    "client__code",
    "invoice__number",
    "invoice_id",
    "invoice__currency",
    "at_stake",
    "opened_at",
    "last_side",
    "last_at",
    "answered",
    "owner_id",
    "owner__full_name",
    "owner__email",
)


def _name(full_name: str | None, email: str | None) -> str | None:
    return full_name or email or None


def dispute_desk(
    today: date,
    cursor: str | None = None,
    limit: int = DESK_LIMIT,
    *,
    owner: DeskOwner = DeskOwner.ALL,
    operator_id: int | None = None,
) -> Desk:
    """Every client's open disputes, oldest first: the queue the billing team works, a
    page at a time (the shared keyset paginator); all of them, the operator's own
    (`operator_id`), or those nobody has taken. The counts are of what the filter lists."""
    open_disputes = Dispute.objects.filter(status=DisputeStatus.OPEN)
    if owner == DeskOwner.MINE:
        open_disputes = open_disputes.filter(owner_id=operator_id)
    elif owner == DeskOwner.UNOWNED:
        open_disputes = open_disputes.filter(owner__isnull=True)
    page = DESK_PAGES.paginate(
        _at_stake(open_disputes), DESK_PAGES.decode(cursor), limit, _DESK_COLUMNS
    )
    desk_rows = [
        DeskRow(
            id=row["id"],
            client_name=row["client__name"],
            client_code=row["client__code"],
            invoice_number=invoice_name(row["invoice__number"], row["invoice_id"]),
            currency=row["invoice__currency"],
            at_stake_minor=row["at_stake"],
            opened_at=row["opened_at"],
            age_days=max(0, (today - row["opened_at"].date()).days),
            turn=_turn(row["last_side"]),
            last_message_at=row["last_at"],
            owner_id=row["owner_id"],
            owner_name=_name(row["owner__full_name"], row["owner__email"]),
            answered_before=bool(row["answered"]),
        )
        for row in page.results
    ]
    total, waiting = desk_counts(open_disputes)
    return Desk(
        rows=desk_rows,
        total=total,
        waiting=waiting,
        next_cursor=page.next,
        prev_cursor=page.prev,
    )


def desk_counts(open_disputes: QuerySet[Dispute] | None = None) -> tuple[int, int]:
    """Open disputes (all, or those given), and how many of them wait for the 3PL's answer
    (the client spoke last, or nobody has yet): one statement."""
    if open_disputes is None:
        open_disputes = Dispute.objects.filter(status=DisputeStatus.OPEN)
    counts = open_disputes.annotate(last_side=last_message("author_side")).aggregate(
        total=Count("id"),
        waiting=Count("id", filter=Q(last_side=AuthorSide.CLIENT) | Q(last_side__isnull=True)),
    )
    return counts["total"], counts["waiting"]


def waiting_for_us() -> int:
    return desk_counts()[1]


def dispute_page(dispute_id: int) -> DisputePage | None:
    """One dispute with its invoice, disputed lines, conversation and internal notes."""
    found = (
        _at_stake(Dispute.objects.filter(pk=dispute_id))
        .values(
            "id",
            "client_id",
            "client__name",
            "client__code",
            "status",
            "reason",
            "amount_minor",
            "at_stake",
            "opened_at",
            "opened_by__email",
            "last_side",
            "owner_id",
            "owner__full_name",
            "owner__email",
            "owned_since",
            "previous_owner__full_name",
            "previous_owner__email",
            "resolution",
            "resolution_summary",
            "resolved_at",
            "resolved_by__email",
            "credit_note__number",
            "credit_note__amount_minor",
            "invoice_id",
            "invoice__number",
            "invoice__status",
            "invoice__currency",
            "invoice__period_start",
            "invoice__period_end",
            "invoice__issue_date",
            "invoice__due_date",
            "invoice__subtotal_minor",
            "invoice__tax_minor",
            "invoice__total_minor",
            "invoice__allocated_minor",
            "invoice__credited_minor",
            "invoice__balance_minor",
        )
        .first()
    )
    if found is None:
        return None
    invoice = InvoiceSummary(
        id=found["invoice_id"],
        number=invoice_name(found["invoice__number"], found["invoice_id"]),
        status=found["invoice__status"],
        currency=found["invoice__currency"],
        period_start=found["invoice__period_start"],
        period_end=found["invoice__period_end"],
        issue_date=found["invoice__issue_date"],
        due_date=found["invoice__due_date"],
        subtotal_minor=found["invoice__subtotal_minor"],
        tax_minor=found["invoice__tax_minor"],
        total_minor=found["invoice__total_minor"],
        allocated_minor=found["invoice__allocated_minor"],
        credited_minor=found["invoice__credited_minor"],
        balance_minor=found["invoice__balance_minor"],
    )
    cn_number = found["credit_note__number"]
    return DisputePage(
        id=found["id"],
        client_id=found["client_id"],
        client_name=found["client__name"],
        client_code=found["client__code"],
        status=found["status"],
        reason=found["reason"],
        amount_minor=found["amount_minor"],
        at_stake_minor=found["at_stake"],
        opened_at=found["opened_at"],
        opened_by=found["opened_by__email"],
        turn=_turn(found["last_side"]),
        owner_id=found["owner_id"],
        owner_name=_name(found["owner__full_name"], found["owner__email"]),
        owned_since=found["owned_since"],
        previous_owner_name=_name(
            found["previous_owner__full_name"], found["previous_owner__email"]
        ),
        resolution=found["resolution"],
        resolution_label=Resolution(found["resolution"]).label if found["resolution"] else "",
        resolution_summary=found["resolution_summary"],
        resolved_at=found["resolved_at"],
        resolved_by=found["resolved_by__email"],
        credit_note_number=format_credit_note_number(cn_number) if cn_number else None,
        credit_note_amount_minor=found["credit_note__amount_minor"],
        invoice=invoice,
        lines=disputed_lines(dispute_id),
        messages=conversation(dispute_id),
        notes=notes_for_dispute(dispute_id),
    )
