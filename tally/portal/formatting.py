"""How the client's view prints things: amounts in their currency and locale, dates and
instants in their time zone, labels in an AP clerk's words.

Plain functions, for the pages (registered once, in `tally.jinja`) and the PDF alike.
"""

from datetime import date, datetime
from functools import cache

from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from tally.money import format_money, price_to_decimal
from tally.portal import queries
from tally.portal.queries import KIND_LABELS


def money(minor: int | None, currency: str, locale: str) -> str:
    """An amount in minor units as `locale` writes it, with its currency; None prints nothing."""
    if minor is None:
        return ""
    return format_money(minor, currency, locale)


def unit_price(micros: int) -> str:
    return str(price_to_decimal(micros))


def query_with(query: QueryDict, **changes: object) -> str:
    """`query` as a query string with some parameters changed (None or "" removes one)."""
    params = query.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


def kind_label(kind: str) -> str:
    """pick → Pick, storage_day → Storage day."""
    return KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize()


# Plain date formatting for the long lists (a table page, a page of events): Django's
# |date filter is general and, at a hundred cells a page, a visible share of the response
# time. English month names, as |date gives them with the portal's one language
# (tests/portal/test_formatting.py compares the two).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LONG_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def day(value: date | None) -> str:
    """A date as "Nov 3, 2025"; an instant as its day in the client's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    return _date_text(value)


def _date_text(value: date) -> str:
    return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"


def long_day(value: date) -> str:
    """A date written out, as "December 3, 2026" (the day an aging report stands at)."""
    return f"{LONG_MONTHS[value.month - 1]} {value.day}, {value.year}"


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


def method_label(method: str) -> str:
    """wire → Wire transfer, as the PDF says it (`payments.models.method_label`)."""
    return queries.method_label(method)


def count(value: int) -> str:
    """A whole number with its thousands grouped, as the PDF prints it: 1,583."""
    return f"{value:,}"


def moment(value: datetime | None) -> str:
    """An instant in the client's time zone, as "Nov 3, 2025 14:05"."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{_date_text(local)} {local:%H:%M}"


def time_of_day(value: datetime | None) -> str:
    """An instant's time of day in the client's time zone, as "14:05": a table cell that
    may wrap prints `|day` and `|time_of_day` apart, so that only the gap between them
    breaks (portal/_line_events.html)."""
    return f"{timezone.localtime(value):%H:%M}" if value is not None else ""


def iso_moment(value: datetime | None) -> str:
    """An instant in the client's time zone, ISO 8601 (for <time datetime>)."""
    return timezone.localtime(value).isoformat() if value is not None else ""


@cache
def _invoice_url_parts() -> tuple[str, str]:
    head, tail = reverse("portal:invoice", args=["INV-0"]).split("INV-0")
    return head, tail


def invoice_url(number: str) -> str:
    """{% url 'portal:invoice' number %} for every row of a table page, reversed once."""
    head, tail = _invoice_url_parts()
    return f"{head}{number}{tail}"


def pluralize(count: int) -> str:
    """The plural ending for a count: "" for one, "s" otherwise."""
    return "" if count == 1 else "s"
