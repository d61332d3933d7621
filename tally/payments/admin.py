from django.contrib import admin

from tally.admin_readonly import ReadOnlyAdmin

from .models import Allocation, Payment


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "client",
        "received_on",
        "method",
        "reference",
        "amount_minor",
        "unapplied_minor",
    ]
    list_filter = ["method"]


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyAdmin):
    list_display = ["payment", "invoice", "amount_minor", "created_at"]
