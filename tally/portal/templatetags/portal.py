"""Template filters for the client's view: money in their currency and locale."""

from datetime import date, datetime
from functools import cache

from django import template
from django.urls import reverse
from django.utils import timezone

from tally.money import format_money, price_to_decimal
from tally.portal.queries import KIND_LABELS, METHOD_LABELS

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


# Plain formatting for the long lists (a table page, a page of events): Django's |date
# filter is general and, at a hundred cells a page, a visible share of the response time.
# English month abbreviations, as |date gives them with the portal's one language.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@register.filter
def day(value: date | None) -> str:
    """A date as "Nov 3, 2025"; an instant as its day in the client's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    return _date_text(value)


def _date_text(value: date) -> str:
    return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"


@register.filter
def month_day(value: date) -> str:
    """A date as "Nov 3" (the start of a service period)."""
    return f"{MONTHS[value.month - 1]} {value.day}"


def period(start: date, end: date) -> str:
    """A service period as few words as it can be said in, every date whole:
    "Nov 5, 2026", "Nov 1 – Nov 30, 2026", "Dec 29, 2025 – Jan 4, 2026"."""
    if start == end:
        return day(end)
    if start.year == end.year:
        return f"{month_day(start)} – {day(end)}"
    return f"{day(start)} – {day(end)}"


def days_late(due: date, today: date) -> str:
    """ "34 days late" for a due date in the past; "" otherwise."""
    late = (today - due).days
    if late <= 0:
        return ""
    return f"{late} day{'' if late == 1 else 's'} late"


@register.filter
def method_label(method: str) -> str:
    """wire → Wire transfer, as the PDF says it."""
    return METHOD_LABELS.get(method) or method.replace("_", " ").capitalize()


@register.filter
def count(value: int) -> str:
    """A whole number with its thousands grouped, as the PDF prints it: 1,583."""
    return f"{value:,}"


@register.filter
def moment(value: datetime | None) -> str:
    """An instant in the client's time zone, as "Nov 3, 2025 14:05"."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{_date_text(local)} {local:%H:%M}"


@register.filter
def iso_moment(value: datetime | None) -> str:
    """An instant in the client's time zone, ISO 8601 (for <time datetime>)."""
    return timezone.localtime(value).isoformat() if value is not None else ""


@cache
def _invoice_url_parts() -> tuple[str, str]:
    head, tail = reverse("portal:invoice", args=["INV-0"]).split("INV-0")
    return head, tail


@register.filter
def invoice_url(number: str) -> str:
    """{% url 'portal:invoice' number %} for every row of a table page, reversed once."""
    head, tail = _invoice_url_parts()
    return f"{head}{number}{tail}"
