from django.urls import path, register_converter

from . import contacts, downloads, views
from .access import CreditNoteNumberConverter, InvoiceNumberConverter

register_converter(InvoiceNumberConverter, "invoice_number")
register_converter(CreditNoteNumberConverter, "credit_note_number")

app_name = "portal"

urlpatterns = [
    path("invoices.csv", downloads.invoices_csv, name="invoices_csv"),
    path("invoices/<invoice_number:number>/", views.invoice, name="invoice"),
    path("invoices/<invoice_number:number>/invoice.pdf", downloads.invoice_pdf, name="invoice_pdf"),
    path("invoices/<invoice_number:number>/dispute/", views.dispute_invoice, name="dispute"),
    path(
        "invoices/<invoice_number:number>/disputes/<int:dispute_id>/messages/",
        views.post_message,
        name="message",
    ),
    path(
        "invoices/<invoice_number:number>/attachments/<int:attachment_id>/<str:filename>",
        downloads.dispute_attachment,
        name="dispute_attachment",
    ),
    path(
        "invoices/<invoice_number:number>/disputes/<int:dispute_id>/withdraw/",
        views.withdraw,
        name="withdraw",
    ),
    path(
        "invoices/<invoice_number:number>/lines/<int:line_id>/events/",
        views.line_events,
        name="line_events",
    ),
    path(
        "invoices/<invoice_number:number>/lines/<int:line_id>/events.csv",
        downloads.line_events_csv,
        name="line_events_csv",
    ),
    path("activity/", views.activity, name="activity"),
    path(
        "activity/charges/<slug:slug>/events/",
        views.accrued_line_events,
        name="accrued_line_events",
    ),
    path("payments/", views.payments, name="payments"),
    path("payments/<int:payment_id>/receipt.pdf", downloads.receipt_pdf, name="receipt_pdf"),
    path(
        "credit-notes/<credit_note_number:number>/credit-note.pdf",
        downloads.credit_note_pdf,
        name="credit_note_pdf",
    ),
    path("requests/", views.requests, name="requests"),
    path("requests/apply-credit/", views.apply_credit, name="apply_credit"),
    path("requests/paid/", views.report_paid, name="report_paid"),
    path("account/contacts/", contacts.billing_contacts, name="billing_contacts"),
    path("account/contacts/add/", contacts.add_contact, name="add_contact"),
    path(
        "account/contacts/<int:contact_id>/remove/", contacts.remove_contact, name="remove_contact"
    ),
    path("reports/aging/", views.aging, name="aging"),
    path("reports/statement/", views.statement, name="statement"),
    path("reports/statement.pdf", downloads.statement_pdf, name="statement_pdf"),
    path("reports/aging.csv", downloads.aging_csv, name="aging_csv"),
]
