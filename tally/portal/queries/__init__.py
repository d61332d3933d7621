"""Everything a client user sees, and the only way client-facing code reads data.

Every function takes the client's id (from the signed-in user, never from the request),
runs inside `client_scope` — so the database itself refuses other clients' rows and every
table outside the allow-list — and returns plain read models built from explicit columns.
Nothing here can reach internal notes, users or the audit trail.

One module per resource, each with its read models; this package re-exports what
client-facing code uses, so a new page adds a module and a line here.
"""

# How a payment method reads, the payments app's one map: the pages' words, as the console's.
from tally.payments.models import METHOD_LABELS, method_label

from .activity import (
    KINDS,
    AccruedEventPage,
    Activity,
    Counts,
    Estimate,
    EstimateLine,
    accrued_line_events,
    activity,
)
from .aging import AGING_BUCKETS, AgingBucket, AgingReport, aging, aging_bucket_range
from .common import (
    FILTER_STATUSES,
    KIND_LABELS,
    PAGE_SIZE,
    SORTS,
    STATUS_LABELS,
    STATUSES,
    InvoiceRow,
    LineRow,
    printed_number,
)
from .contacts import ContactRow, billing_contacts
from .credit_notes import CreditNoteDocument, credit_note_document
from .detail import (
    AllocationRow,
    CreditedLine,
    CreditNoteRow,
    InvoiceDetail,
    ReminderRow,
    invoice_detail,
    invoice_id_for_number,
)
from .disputes import AttachmentFile, AttachmentRow, DisputeView, MessageRow, attachment_file
from .events import EventPage, EventRow, all_line_events, line_detail_keys, line_events
from .invoices import InvoiceFilters, InvoicePage, all_invoice_rows, invoice_page
from .notices import (
    NoticeChoices,
    NoticePage,
    NoticeRow,
    OpenInvoice,
    ReportedPayment,
    notice_choices,
    notice_page,
    payment_reported,
)
from .payments import (
    AppliedTo,
    PaymentPage,
    PaymentReceipt,
    PaymentRow,
    RefundedRow,
    payment_page,
    payment_receipt,
)
from .search import ReferenceHit
from .statement import (
    ENTRY_LABELS,
    MAX_DAYS,
    CurrencyStatement,
    Statement,
    StatementEntry,
    statement,
)
from .summary import ClientHeader, StatCards, client_header, stat_cards

__all__ = [
    "ENTRY_LABELS",
    "MAX_DAYS",
    "CurrencyStatement",
    "Statement",
    "StatementEntry",
    "statement",
    "AccruedEventPage",
    "Activity",
    "Counts",
    "Estimate",
    "EstimateLine",
    "KINDS",
    "accrued_line_events",
    "activity",
    "AGING_BUCKETS",
    "FILTER_STATUSES",
    "KIND_LABELS",
    "METHOD_LABELS",
    "method_label",
    "PAGE_SIZE",
    "SORTS",
    "STATUSES",
    "STATUS_LABELS",
    "AgingBucket",
    "AgingReport",
    "AllocationRow",
    "AppliedTo",
    "AttachmentFile",
    "AttachmentRow",
    "ClientHeader",
    "ContactRow",
    "CreditedLine",
    "CreditNoteDocument",
    "CreditNoteRow",
    "DisputeView",
    "EventPage",
    "EventRow",
    "InvoiceDetail",
    "InvoiceFilters",
    "InvoicePage",
    "InvoiceRow",
    "LineRow",
    "MessageRow",
    "NoticeChoices",
    "NoticePage",
    "NoticeRow",
    "OpenInvoice",
    "ReportedPayment",
    "PaymentPage",
    "PaymentReceipt",
    "RefundedRow",
    "PaymentRow",
    "ReferenceHit",
    "ReminderRow",
    "StatCards",
    "aging",
    "aging_bucket_range",
    "all_invoice_rows",
    "all_line_events",
    "attachment_file",
    "billing_contacts",
    "client_header",
    "invoice_detail",
    "invoice_id_for_number",
    "printed_number",
    "invoice_page",
    "line_detail_keys",
    "line_events",
    "notice_choices",
    "notice_page",
    "payment_reported",
    "credit_note_document",
    "payment_page",
    "payment_receipt",
    "stat_cards",
]
