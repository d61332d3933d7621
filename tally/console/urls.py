"""The console's URLs, grouped by part of the operator's work. Every view is wrapped in
`operator_console` (tests/console/test_access.py enumerates this list)."""

from django.urls import path

from .views import (
    billing,
    disputes,
    drafts,
    invoice_emails,
    invoices,
    notices,
    overview,
    payments,
)

app_name = "console"

urlpatterns = [
    path("", overview.home, name="home"),
    path("aging/", overview.aging, name="aging"),
    path("reminders/", overview.reminders, name="reminders"),
    path("unrated/", overview.unrated, name="unrated"),
    # The dispute desk
    path("disputes/", disputes.disputes, name="disputes"),
    path("disputes/<int:dispute_id>/", disputes.dispute, name="dispute"),
    path("disputes/<int:dispute_id>/take/", disputes.take, name="take"),
    path("disputes/<int:dispute_id>/give-back/", disputes.give_back, name="give_back"),
    path("disputes/<int:dispute_id>/reply/", disputes.reply, name="reply"),
    path(
        "disputes/<int:dispute_id>/attachments/<int:attachment_id>/<str:filename>",
        disputes.attachment,
        name="dispute_attachment",
    ),
    path("disputes/<int:dispute_id>/notes/", disputes.note, name="note"),
    path("disputes/<int:dispute_id>/resolve/", disputes.resolve, name="resolve"),
    # Drafts to review
    path("drafts/", drafts.drafts, name="drafts"),
    path("drafts/issue/", drafts.issue_several, name="issue_drafts"),
    path("drafts/<int:invoice_id>/", drafts.draft, name="draft"),
    path(
        "drafts/<int:invoice_id>/lines/<int:line_id>/",
        drafts.line_events,
        name="draft_line",
    ),
    path("drafts/<int:invoice_id>/adjustments/", drafts.adjust, name="adjust_draft"),
    path(
        "drafts/<int:invoice_id>/adjustments/remove/",
        drafts.remove_adjustment,
        name="remove_adjustment",
    ),
    path("drafts/<int:invoice_id>/issue/", drafts.issue, name="issue_draft"),
    path("drafts/<int:invoice_id>/delete/", drafts.delete, name="delete_draft"),
    # Billing runs
    path("billing/", billing.billing_runs, name="billing_runs"),
    path("billing/<int:run_id>/", billing.billing_run, name="billing_run"),
    # Invoices
    path("invoices/", invoices.invoices, name="invoices"),
    path("invoices/<int:invoice_id>/", invoices.invoice, name="invoice"),
    path(
        "invoices/<int:invoice_id>/lines/<int:line_id>/",
        invoices.line_events,
        name="invoice_line",
    ),
    path("invoices/<int:invoice_id>/void/", invoices.void, name="void_invoice"),
    path("invoices/<int:invoice_id>/credit/", invoices.credit, name="credit_invoice"),
    # Payments
    path("payments/", payments.payments, name="payments"),
    path("payments/new/", payments.record_payment, name="record_payment"),
    path("payments/credit/", payments.credit, name="credit"),
    path("payments/<int:payment_id>/", payments.payment, name="payment"),
    path("payments/<int:payment_id>/correct/", payments.correct, name="correct_allocation"),
    path("payments/<int:payment_id>/refund/", payments.refund, name="refund"),
    # What clients told us about money: credit to apply, payments reported
    path("requests/<int:notice_id>/", notices.notice, name="notice"),
    path("requests/<int:notice_id>/apply/", notices.apply, name="apply_notice"),
    path("requests/<int:notice_id>/decline/", notices.decline, name="decline_notice"),
    path("requests/<int:notice_id>/match/", notices.match, name="match_notice"),
    path("requests/<slug:kind>/", notices.queue, name="notices"),
    # An issued invoice's emails
    path(
        "invoices/<int:invoice_id>/send-again/",
        invoice_emails.send_again,
        name="send_invoice_again",
    ),
]
