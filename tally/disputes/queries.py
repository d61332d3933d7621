"""Reads of disputes for the operator side (the console and the operator API).

Client-facing reads live in the portal's own query module, under the client scope; these
functions see every client and must not be used to answer a client. The console reads a
dispute's lines and conversation here (`disputed_lines`, `conversation`) and its desk
asks for the last word through `last_message`.

Each returns plain read models built from explicit columns, never model instances.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, OuterRef, QuerySet, Subquery

from tally.invoicing.naming import format_invoice_number

from .attachments import AttachmentFile, AttachmentRow, attachments_by_message, read_attachment
from .models import Dispute, DisputeAttachment, DisputeLine, DisputeMessage, DisputeStatus


@dataclass(frozen=True)
class DisputeSummary:
    id: int
    client_id: int
    client_code: str
    client_name: str
    invoice_id: int
    invoice_number: str
    currency: str
    status: str
    resolution: str
    amount_minor: int | None
    reason: str
    opened_at: datetime
    opened_by_email: str
    message_count: int
    last_message_at: datetime | None
    last_message_side: str | None

    @property
    def awaiting_operator(self) -> bool:
        """An open dispute whose last word is the client's waits for an operator's answer."""
        return self.status == DisputeStatus.OPEN and self.last_message_side == "client"


@dataclass(frozen=True)
class DisputedLine:
    line_id: int
    description: str
    quantity: int
    unit_price_micros: int
    amount_minor: int


@dataclass(frozen=True)
class MessageRow:
    id: int
    author_id: int
    author_email: str
    author_name: str
    author_side: str
    body: str
    created_at: datetime
    attachments: list[AttachmentRow]

    @property
    def author(self) -> str:
        """Who wrote it, as an operator reads it: the name, else the email."""
        return self.author_name or self.author_email


@dataclass(frozen=True)
class DisputeDetail:
    summary: DisputeSummary
    lines: list[DisputedLine]
    messages: list[MessageRow]
    resolution_summary: str
    resolved_at: datetime | None
    resolved_by_email: str | None
    credit_note_id: int | None
    credit_note_number: int | None
    credit_note_amount_minor: int | None


_SUMMARY_COLUMNS = (
    "id",
    "client_id",
    "client__code",
    "client__name",
    "invoice_id",
    "invoice__number",
    "invoice__currency",
    "status",
    "resolution",
    "amount_minor",
    "reason",
    "opened_at",
    "opened_by__email",
    "message_count",
    "last_message_at",
    "last_message_side",
)


def last_message(field: str) -> Subquery:
    """`field` of the last message of the dispute an outer query reads (`pk`), for an
    annotation: `author_side` says whose turn it is, `created_at` when it was said."""
    return Subquery(
        DisputeMessage.objects.filter(dispute=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values(field)[:1]
    )


def _summaries(qs: QuerySet[Dispute]) -> list[DisputeSummary]:
    rows = qs.annotate(
        message_count=Count("messages"),
        last_message_at=Max("messages__created_at"),
        last_message_side=last_message("author_side"),
    ).values_list(*_SUMMARY_COLUMNS)
    return [_summary(row) for row in rows]


def _summary(row: tuple) -> DisputeSummary:
    values = dict(zip(_SUMMARY_COLUMNS, row, strict=True))
    number = values["invoice__number"]
    return DisputeSummary(
        id=values["id"],
        client_id=values["client_id"],
        client_code=values["client__code"],
        client_name=values["client__name"],
        invoice_id=values["invoice_id"],
        invoice_number=format_invoice_number(number) if number else f"#{values['invoice_id']}",
        currency=values["invoice__currency"],
        status=values["status"],
        resolution=values["resolution"],
        amount_minor=values["amount_minor"],
        reason=values["reason"],
        opened_at=values["opened_at"],
        opened_by_email=values["opened_by__email"],
        message_count=values["message_count"],
        last_message_at=values["last_message_at"],
        last_message_side=values["last_message_side"],
    )


def list_disputes(
    *,
    status: str | None = None,
    client_id: int | None = None,
    invoice_id: int | None = None,
    limit: int = 200,
) -> list[DisputeSummary]:
    """Disputes across clients, oldest first when open (the queue), newest first otherwise."""
    qs = Dispute.objects.all()
    if status is not None:
        qs = qs.filter(status=status)
    if client_id is not None:
        qs = qs.filter(client_id=client_id)
    if invoice_id is not None:
        qs = qs.filter(invoice_id=invoice_id)
    order = ("opened_at", "id") if status == DisputeStatus.OPEN else ("-opened_at", "-id")
    return _summaries(qs.order_by(*order)[:limit])


def open_disputes(client_id: int | None = None) -> list[DisputeSummary]:
    """The operators' queue: every open dispute (or one client's), oldest first."""
    return list_disputes(status=DisputeStatus.OPEN, client_id=client_id)


def dispute_detail(dispute_id: int) -> DisputeDetail | None:
    """One dispute with its contested lines and its conversation (oldest message first)."""
    found = _summaries(Dispute.objects.filter(pk=dispute_id))
    if not found:
        return None
    extra = (
        Dispute.objects.filter(pk=dispute_id)
        .values_list(
            "resolution_summary",
            "resolved_at",
            "resolved_by__email",
            "credit_note_id",
            "credit_note__number",
            "credit_note__amount_minor",
        )
        .get()
    )
    return DisputeDetail(found[0], disputed_lines(dispute_id), conversation(dispute_id), *extra)


def disputed_lines(dispute_id: int) -> list[DisputedLine]:
    """The invoice lines a dispute contests, in the invoice's order."""
    return [
        DisputedLine(*row)
        for row in DisputeLine.objects.filter(dispute_id=dispute_id)
        .order_by("line__position", "line_id")
        .values_list(
            "line_id",
            "line__description",
            "line__quantity",
            "line__unit_price_micros",
            "line__amount_minor",
        )
    ]


def conversation(dispute_id: int) -> list[MessageRow]:
    """A dispute's messages, oldest first, each with its files."""
    files = attachments_by_message(DisputeAttachment.objects.filter(dispute_id=dispute_id))
    return [
        MessageRow(*row, attachments=files.get(row[0], []))
        for row in DisputeMessage.objects.filter(dispute_id=dispute_id)
        .order_by("created_at", "id")
        .values_list(
            "id",
            "author_id",
            "author__email",
            "author__full_name",
            "author_side",
            "body",
            "created_at",
        )
    ]


def attachment_file(dispute_id: int, attachment_id: int) -> AttachmentFile:
    """A file of the dispute, for an operator's download."""
    return read_attachment(DisputeAttachment.objects.filter(dispute_id=dispute_id), attachment_id)
