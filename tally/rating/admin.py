from django.contrib import admin

from tally.admin_readonly import ReadOnlyAdmin

from .models import RateCard, RatePrice


class RatePriceInline(admin.TabularInline):
    model = RatePrice
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RateCard)
class RateCardAdmin(ReadOnlyAdmin):
    list_display = ["client", "name", "effective_from", "effective_to"]
    inlines = [RatePriceInline]
