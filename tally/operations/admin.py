from django.contrib import admin

from tally.admin_readonly import ReadOnlyAdmin

from .models import Event


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "client", "kind", "occurred_at", "quantity", "reference", "line"]
    list_filter = ["kind"]
    search_fields = ["reference", "external_id"]
    raw_id_fields = ["client", "line"]
    show_full_result_count = False
