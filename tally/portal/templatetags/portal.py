"""Template filters for the client's view: money in their currency and locale."""

from django import template

from tally.money import format_money, price_to_decimal
from tally.portal.queries import KIND_LABELS

register = template.Library()


@register.simple_tag(takes_context=True)
def money(context: template.Context, minor: int | None, currency: str) -> str:
    if minor is None:
        return ""
    portal = context.get("portal")
    return format_money(minor, currency, portal.locale if portal else "en_US")


@register.filter
def unit_price(micros: int) -> str:
    return str(price_to_decimal(micros))


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: object) -> str:
    """The current URL's query string with some parameters changed (None removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def kind_label(kind: str) -> str:
    """pick → Pick, storage_day → Storage day."""
    return KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize()
