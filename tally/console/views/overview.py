"""Where operators land after signing in: where the money stands, who owes what by age,
and the work waiting; and the two queues that have no page elsewhere (reminders to look
at, events with no price)."""

from collections.abc import Callable
from datetime import date
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from tally.payments.aging import AGING_BUCKETS

from ..access import Console, operator_console
from ..forms.overview import AsOfForm
from ..queries import overview as queries
from ..queries.aging import aging_page
from ..queries.reminders import reminders_to_review
from ..queries.unrated import unrated_events


def page_link(name: str) -> Callable[..., str | None]:
    """A link to a console list with its filters in the query string, or None while that
    list is not part of the console (the figure then shows without a link). The list's
    URL is looked up once: a page of figures asks for hundreds of links."""
    try:
        base = reverse(name)
    except NoReverseMatch:
        return lambda **params: None

    def link(**params: object) -> str:
        query = {k: str(v) for k, v in params.items() if v is not None}
        return f"{base}?{urlencode(query)}" if query else base

    return link


@operator_console
@require_GET
def home(request: HttpRequest, console: Console) -> HttpResponse:
    form = AsOfForm(request.GET if "as_of" in request.GET else None, today=console.today)
    as_of: date = form.day
    context = {
        "console": console,
        "nav": "overview",
        "form": form,
        "overview": queries.overview(console.today),
        "aging": queries.aging_by_client(as_of, queries.OVERVIEW_AGING_ROWS),
        "per_currency": queries.OVERVIEW_AGING_ROWS,
        "is_today": as_of == console.today,
        "buckets": AGING_BUCKETS,
        "invoices_link": page_link("console:invoices"),
        "aging_link": page_link("console:aging"),
        "queue_link": lambda name: page_link(name)(),
        "kind_link": lambda kind: reverse("console:notices", args=[kind]),
    }
    return render(request, "console/overview.html", context)


@operator_console
@require_GET
def aging(request: HttpRequest, console: Console) -> HttpResponse:
    """Every client's aging in one currency, most owed first, a page at a time."""
    form = AsOfForm(request.GET if "as_of" in request.GET else None, today=console.today)
    as_of: date = form.day
    page = aging_page(as_of, request.GET.get("currency", ""), request.GET.get("cursor"))
    context = {
        "console": console,
        "nav": "overview",
        "form": form,
        "page": page,
        "is_today": as_of == console.today,
        "buckets": AGING_BUCKETS,
        "invoices_link": page_link("console:invoices"),
    }
    return render(request, "console/aging.html", context)


@operator_console
@require_GET
def reminders(request: HttpRequest, console: Console) -> HttpResponse:
    page = reminders_to_review(cursor=request.GET.get("cursor"))
    return render(
        request, "console/reminders.html", {"console": console, "nav": "overview", "page": page}
    )


@operator_console
@require_GET
def unrated(request: HttpRequest, console: Console) -> HttpResponse:
    rows = unrated_events()
    return render(
        request,
        "console/unrated.html",
        {"console": console, "nav": "overview", "rows": rows, "total": sum(r.events for r in rows)},
    )
