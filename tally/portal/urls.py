from django.urls import path

from . import downloads, views

app_name = "portal"

urlpatterns = [
    path("invoices.csv", downloads.invoices_csv, name="invoices_csv"),
    path("invoices/<str:number>/", views.invoice, name="invoice"),
    path("invoices/<str:number>/invoice.pdf", downloads.invoice_pdf, name="invoice_pdf"),
    path("invoices/<str:number>/dispute/", views.dispute_invoice, name="dispute"),
    path(
        "invoices/<str:number>/disputes/<int:dispute_id>/messages/",
        views.post_message,
        name="message",
    ),
    path(
        "invoices/<str:number>/lines/<int:line_id>/events/", views.line_events, name="line_events"
    ),
    path(
        "invoices/<str:number>/lines/<int:line_id>/events.csv",
        downloads.line_events_csv,
        name="line_events_csv",
    ),
    path("payments/", views.payments, name="payments"),
    path("reports/aging/", views.aging, name="aging"),
    path("reports/aging.csv", downloads.aging_csv, name="aging_csv"),
]
