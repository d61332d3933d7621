"""An invoice's disputes and their conversation, as the client sees them."""

from dataclasses import dataclass
from datetime import datetime

from tally.disputes.attachments import (
    AttachmentFile,
    AttachmentRow,
    attachments_by_message,
    read_attachment,
)
from tally.disputes.models import (
    Dispute,
    DisputeAttachment,
    DisputeAttachmentContent,
    DisputeLine,
    DisputeMessage,
    Resolution,
)

from ..scope import client_scope
from .common import _tables

# How each outcome reads to the client: "Upheld" read as if the client had won.
RESOLUTION_LABELS: dict[str, str] = {
    Resolution.CREDITED: "Credited",
    Resolution.UPHELD: "Charge confirmed",
    Resolution.WITHDRAWN: "Withdrawn",
}


@dataclass(frozen=True)
class MessageRow:
    side: str
    body: str
    created_at: datetime
    attachments: list[AttachmentRow]


@dataclass(frozen=True)
class DisputeView:
    id: int
    status: str
    amount_minor: int | None
    reason: str
    opened_at: datetime
    resolution: str
    resolution_summary: str
    resolved_at: datetime | None
    line_ids: list[int]
    messages: list[MessageRow]

    @property
    def outcome(self) -> str:
        return RESOLUTION_LABELS.get(self.resolution, self.resolution.capitalize())


def _disputes(client_id: int, invoice_id: int) -> list[DisputeView]:
    disputes = list(
        Dispute.objects.filter(client_id=client_id, invoice_id=invoice_id)
        .order_by("opened_at", "id")
        .values(
            "id",
            "status",
            "amount_minor",
            "reason",
            "opened_at",
            "resolution",
            "resolution_summary",
            "resolved_at",
        )
    )
    ids = [d["id"] for d in disputes]
    if not ids:
        return []
    lines: dict[int, list[int]] = {i: [] for i in ids}
    for dispute_id, line_id in DisputeLine.objects.filter(
        client_id=client_id, dispute_id__in=ids
    ).values_list("dispute_id", "line_id"):
        lines[dispute_id].append(line_id)
    files = attachments_by_message(
        DisputeAttachment.objects.filter(client_id=client_id, dispute_id__in=ids)
    )
    messages: dict[int, list[MessageRow]] = {i: [] for i in ids}
    for v in (
        DisputeMessage.objects.filter(client_id=client_id, dispute_id__in=ids)
        .order_by("created_at", "id")
        .values("id", "dispute_id", "author_side", "body", "created_at")
    ):
        messages[v["dispute_id"]].append(
            MessageRow(v["author_side"], v["body"], v["created_at"], files.get(v["id"], []))
        )
    return [DisputeView(**d, line_ids=lines[d["id"]], messages=messages[d["id"]]) for d in disputes]


def attachment_file(client_id: int, invoice_id: int, attachment_id: int) -> AttachmentFile:
    """One file of a dispute on the client's invoice, for download; NotFound otherwise."""
    with client_scope(client_id, _tables(Dispute, DisputeAttachment, DisputeAttachmentContent)):
        files = DisputeAttachment.objects.filter(
            client_id=client_id, dispute__invoice_id=invoice_id
        )
        return read_attachment(files, attachment_id)
