"""What clients told the 3PL about money, waiting for an operator: credit to apply to
chosen invoices, payments they reported (remittance advice). One queue shape for both
kinds: oldest first, with the client and the invoices each names."""

from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Count, Sum

from tally.audit.models import AuditEvent
from tally.invoicing.naming import format_invoice_number
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator
from tally.payments.models import (
    ClientNotice,
    ClientNoticeInvoice,
    NoticeKind,
    NoticeStatus,
    Payment,
    method_label,
)

PAGE_SIZE = 50
KINDS = {"credit": NoticeKind.CREDIT_REQUEST, "remittance": NoticeKind.REMITTANCE}
KIND_TITLES = {
    NoticeKind.CREDIT_REQUEST: "Credit to apply",
    NoticeKind.REMITTANCE: "Payments reported",
}


@dataclass(frozen=True)
class NamedInvoice:
    id: int
    number: str
    amount_minor: int | None  # asked to apply (a credit request)
    balance_minor: int  # what it owes now
    status: str


@dataclass(frozen=True)
class NoticeRow:
    id: int
    kind: str
    status: str
    client_id: int
    client_name: str
    currency: str
    amount_minor: int
    paid_on: date | None
    method: str
    reference: str
    answer: str
    created_at: datetime
    created_by: str
    closed_at: datetime | None
    payment_id: int | None
    invoices: list[NamedInvoice]

    @property
    def method_label(self) -> str:
        return method_label(self.method)

    @property
    def status_label(self) -> str:
        return str(NoticeStatus(self.status).label)


@dataclass(frozen=True)
class NoticeQueue:
    kind: str
    rows: list[NoticeRow]
    next_cursor: str | None
    prev_cursor: str | None


_PAGES = KeysetPaginator("console.notices", [DateTimeKey("created_at"), IntKey("id")])
_COLUMNS = (
    "id",
    "kind",
    "status",
    "client_id",
    "client__name",
    "currency",
    "amount_minor",
    "paid_on",
    "method",
    "reference",
    "answer",
    "created_at",
    "created_by__email",
    "closed_at",
    "payment_id",
)


def _rows(values: list[dict]) -> list[NoticeRow]:
    """Notices with the invoices each names: one more statement for all of them."""
    named: dict[int, list[NamedInvoice]] = {}
    for notice_id, invoice_id, number, amount, balance, status in (
        ClientNoticeInvoice.objects.filter(notice_id__in=[v["id"] for v in values])
        .order_by("invoice__number")
        .values_list(
            "notice_id",
            "invoice_id",
            "invoice__number",
            "amount_minor",
            "invoice__balance_minor",
            "invoice__status",
        )
    ):
        named.setdefault(notice_id, []).append(
            NamedInvoice(invoice_id, format_invoice_number(number or 0), amount, balance, status)
        )
    return [
        NoticeRow(
            id=v["id"],
            kind=v["kind"],
            status=v["status"],
            client_id=v["client_id"],
            client_name=v["client__name"],
            currency=v["currency"],
            amount_minor=v["amount_minor"],
            paid_on=v["paid_on"],
            method=v["method"],
            reference=v["reference"],
            answer=v["answer"],
            created_at=v["created_at"],
            created_by=v["created_by__email"],
            closed_at=v["closed_at"],
            payment_id=v["payment_id"],
            invoices=named.get(v["id"], []),
        )
        for v in values
    ]


def waiting_counts() -> dict[str, int]:
    """How many of each kind wait for an operator: one statement."""
    counts = dict.fromkeys(NoticeKind.values, 0)
    counts.update(
        ClientNotice.objects.filter(status=NoticeStatus.WAITING)
        .values("kind")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("kind", "n")
    )
    return counts


def waiting_by_client(kind: str, client_ids: list[int]) -> dict[int, int]:
    return dict(
        ClientNotice.objects.filter(
            status=NoticeStatus.WAITING, kind=kind, client_id__in=client_ids
        )
        .values("client_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("client_id", "n")
    )


def notice_queue(
    kind: str, *, client_id: int | None = None, cursor: str | None = None, limit: int = PAGE_SIZE
) -> NoticeQueue:
    """A kind's notices waiting for an operator, oldest first (one client's, or all)."""
    qs = ClientNotice.objects.filter(status=NoticeStatus.WAITING, kind=kind)
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    page = _PAGES.paginate(qs, _PAGES.decode(cursor), limit, _COLUMNS)
    return NoticeQueue(kind, _rows(page.results), page.next, page.prev)


@dataclass(frozen=True)
class NoticeDetail:
    row: NoticeRow
    credit_minor: int  # the client's unapplied credit now
    history: list[tuple[datetime, str, str]]  # (when, who, what)


def notice_detail(notice_id: int) -> NoticeDetail | None:
    values = list(ClientNotice.objects.filter(pk=notice_id).values(*_COLUMNS))
    if not values:
        return None
    [row] = _rows(values)
    credit = Payment.objects.filter(client_id=row.client_id, unapplied_minor__gt=0).aggregate(
        s=Sum("unapplied_minor")
    )["s"]
    history = list(
        AuditEvent.objects.filter(object_type="payments.clientnotice", object_id=str(notice_id))
        .order_by("id")
        .values_list("occurred_at", "actor_label", "action")
    )
    return NoticeDetail(row, credit or 0, history)


def waiting_advice(client_id: int) -> list[NoticeRow]:
    """The client's remittance advice still waiting, oldest first: what a payment being
    recorded for it may answer. A client has a handful at most; all of them."""
    values = list(
        ClientNotice.objects.filter(
            client_id=client_id, kind=NoticeKind.REMITTANCE, status=NoticeStatus.WAITING
        )
        .order_by("created_at", "id")
        .values(*_COLUMNS)
    )
    return _rows(values) if values else []


@dataclass(frozen=True)
class MatchablePayment:
    """A payment recorded already that remittance advice may be closed as matched to."""

    id: int
    received_on: date
    amount_minor: int
    currency: str
    method: str
    reference: str

    @property
    def method_label(self) -> str:
        return method_label(self.method)


# How many of the client's payments the advice's page offers to match, newest first.
MATCHABLE_PAYMENTS = 50


def matchable_payments(client_id: int) -> list[MatchablePayment]:
    """The client's payments recorded already, newest first: the one a waiting remittance
    advice reported, when the operator recorded it without starting from the advice."""
    return [
        MatchablePayment(*row)
        for row in Payment.objects.filter(client_id=client_id)
        .order_by("-received_on", "-id")
        .values_list("id", "received_on", "amount_minor", "currency", "method", "reference")[
            :MATCHABLE_PAYMENTS
        ]
    ]
