from django.contrib import admin

from tally.admin_readonly import ReadOnlyAdmin

from .models import Event


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "client", "kind", "occurred_at", "quantity", "reference"]
    list_filter = ["kind"]
    search_fields = ["reference", "external_id"]
    raw_id_fields = ["client"]
    show_full_result_count = False
