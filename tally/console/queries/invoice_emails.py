"""When an issued invoice was emailed to its client, to whom, and how each try went."""

from dataclasses import dataclass
from datetime import datetime

from tally.clients.models import BillingContact
from tally.invoicing.models import (
    Invoice,
    InvoiceEmail,
    InvoiceEmailAttempt,
    InvoiceEmailReason,
    InvoiceEmailStatus,
    InvoiceStatus,
)
from tally.invoicing.naming import format_invoice_number


@dataclass(frozen=True)
class AttemptRow:
    attempt: int
    attempted_at: datetime
    outcome: str
    recipients: list[str]
    error: str


@dataclass(frozen=True)
class EmailRow:
    id: int
    reason: str
    requested_at: datetime
    requested_by: str
    status: str
    recipients: list[str]
    sent_at: datetime | None
    detail: str
    attempts: list[AttemptRow]

    @property
    def reason_label(self) -> str:
        return InvoiceEmailReason(self.reason).label

    @property
    def status_label(self) -> str:
        return InvoiceEmailStatus(self.status).label


@dataclass(frozen=True)
class InvoiceEmails:
    invoice_id: int
    number: str
    client_name: str
    can_send: bool  # issued and not void
    contacts: list[str]
    emails: list[EmailRow]  # newest first

    @property
    def last_sent_at(self) -> datetime | None:
        return max((e.sent_at for e in self.emails if e.sent_at), default=None)


def invoice_emails(invoice_id: int) -> InvoiceEmails | None:
    """An invoice's emails, newest first, each with its tries; None for a draft or no
    invoice at all (a draft is never emailed)."""
    inv = (
        Invoice.objects.filter(pk=invoice_id)
        .values("id", "number", "status", "client_id", "client__name")
        .first()
    )
    if inv is None or inv["number"] is None:
        return None
    attempts: dict[int, list[AttemptRow]] = {}
    for email_id, *row in InvoiceEmailAttempt.objects.filter(
        email__invoice_id=invoice_id
    ).values_list("email_id", "attempt", "attempted_at", "outcome", "recipients", "error"):
        attempts.setdefault(email_id, []).append(AttemptRow(*row))
    emails = [
        EmailRow(**row, attempts=attempts.get(row["id"], []))
        for row in InvoiceEmail.objects.filter(invoice_id=invoice_id)
        .order_by("-requested_at", "-id")
        .values(
            "id",
            "reason",
            "requested_at",
            "requested_by",
            "status",
            "recipients",
            "sent_at",
            "detail",
        )
    ]
    return InvoiceEmails(
        invoice_id=inv["id"],
        number=format_invoice_number(inv["number"]),
        client_name=inv["client__name"],
        can_send=inv["status"] in (InvoiceStatus.OPEN, InvoiceStatus.PAID),
        contacts=list(
            BillingContact.objects.filter(client_id=inv["client_id"])
            .order_by("id")
            .values_list("email", flat=True)
        ),
        emails=emails,
    )
