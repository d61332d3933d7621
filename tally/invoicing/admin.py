from django.contrib import admin

from tally.admin_readonly import ReadOnlyAdmin

from .models import BilledRange, CreditNote, Invoice, InvoiceLine


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = [
        "display_number",
        "client",
        "status",
        "period_start",
        "issue_date",
        "due_date",
        "currency",
        "total_minor",
        "balance_minor",
    ]
    list_filter = ["status", "currency"]
    search_fields = ["number"]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    list_display = [
        "invoice",
        "kind",
        "description",
        "quantity",
        "unit_price_micros",
        "amount_minor",
    ]
    raw_id_fields = ["invoice"]


@admin.register(BilledRange)
class BilledRangeAdmin(ReadOnlyAdmin):
    list_display = ["line", "kind", "occurred_from", "occurred_to", "after_id", "upto_id"]
    raw_id_fields = ["client", "invoice", "line"]


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ["display_number", "client", "invoice", "amount_minor", "reason", "created_at"]
