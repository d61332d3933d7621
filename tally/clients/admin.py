from django.contrib import admin

from tally.admin_readonly import ReadOnlyAdmin

from .models import BillingContact, Client


@admin.register(Client)
class ClientAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "currency", "payment_terms_days", "time_zone", "tax_rate_bp"]
    search_fields = ["code", "name"]


@admin.register(BillingContact)
class BillingContactAdmin(ReadOnlyAdmin):
    list_display = ["client", "name", "email"]
