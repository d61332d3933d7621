"""The client portal's pages. Thin: read through `queries`, write through the services."""

import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from tally.disputes.services import open_dispute, post_dispute_message, withdraw_dispute
from tally.errors import DomainError, NotFound, Problem
from tally.money import MoneyError, parse_amount
from tally.payments.forms import AgingDayForm
from tally.payments.services import ask_to_apply_credit, report_payment

from . import charts, queries
from .access import Portal, SpelledDifferently, client_portal
from .forms import (
    CreditRequestForm,
    DisputeForm,
    InvoiceFilterForm,
    MessageForm,
    NoticeForm,
    PaymentFilterForm,
    RemittanceForm,
    StatementForm,
    WithdrawForm,
    show_refusal,
    too_many_decimals,
)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


NUMBER = re.compile(r"INV-([0-9]{1,18})")


def find_invoice(portal: Portal, number: str) -> tuple[int, str]:
    """The client's invoice numbered `number` however many zeros it is spelled with, and
    the number printed on it. Only `INV-` and ASCII digits: `re.fullmatch` admits no
    trailing newline, and `[0-9]` no other script's digits."""
    match = NUMBER.fullmatch(number)
    if not match:
        raise Http404("no such invoice")
    value = int(match.group(1))
    return queries.invoice_id_for_number(portal.client_id, value), queries.printed_number(value)


def invoice_id_from_number(portal: Portal, number: str) -> int:
    """The client's invoice printed with `number`; another spelling of one of its numbers
    (`INV-2` for `INV-000002`) is sent to the printed one (`access.SpelledDifferently`)."""
    invoice_id, printed = find_invoice(portal, number)
    if printed != number:
        raise SpelledDifferently(number, printed)
    return invoice_id


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    if getattr(request.user, "client_id", None) is None:
        # Operators and platform owners work in the console (by URL name: no import).
        return redirect("console:home")
    return billing(request)


def table_filters(
    request: HtmxHttpRequest, portal: Portal
) -> tuple[InvoiceFilterForm, queries.InvoiceFilters]:
    """The invoice table's filters as the query string sets them, an aging bucket included:
    the page and its CSV download list the same invoices."""
    form = InvoiceFilterForm(
        request.GET or None, currency=portal.client.currency, today=portal.today
    )
    if form.is_bound:
        form.is_valid()
    return form, form.filters()


def _table_state(
    request: HtmxHttpRequest, portal: Portal
) -> tuple[InvoiceFilterForm, queries.InvoicePage]:
    form, filters = table_filters(request, portal)
    page = queries.invoice_page(
        portal.client_id,
        portal.today,
        filters,
        sort=form.sort_key,
        descending=form.is_descending,
        cursor=request.GET.get("cursor"),
    )
    return form, page


@vary_on_headers("HX-Request", "HX-Target")
@client_portal
def billing(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    form, page = _table_state(request, portal)
    context: dict[str, object] = {
        "portal": portal,
        "form": form,
        "page": page,
        "sort_columns": _sort_columns(request, form),
        "open_row_id": None,
        "active_card": form.active_card,
    }
    open_number = request.GET.get("open")
    found = None if open_number else page.reference_hit
    if found is not None:
        # A search by an event's reference opens the invoice at that event: its line's
        # events from the page holding it, the event highlighted.
        context |= _detail_context(portal, found.invoice_id)
        context["open_row_id"] = found.invoice_id
        context["reference_hit"] = found
        context["hit_events"] = queries.line_events(
            portal.client_id, found.line_id, at_event=found.event_id
        )
    if request.htmx and request.htmx.target == "invoice-table":
        return render(request, "portal/_invoice_table.html", context)
    context["cards"] = queries.stat_cards(portal.client_id, portal.today)
    if open_number:
        try:
            detail = _detail_context(portal, find_invoice(portal, open_number)[0])
        except (Http404, NotFound):
            # The same words for another client's invoice as for one that does not exist.
            messages.warning(request, f"There is no invoice {open_number[:40]} to open.")
        else:
            # The opened row's drilldown is included in the table, from the same context.
            context |= detail
            context["open_row_id"] = detail["detail"].row.id  # type: ignore[attr-defined]
    return render(request, "portal/billing.html", context)


def _sort_columns(request: HtmxHttpRequest, form: InvoiceFilterForm) -> dict[str, dict[str, str]]:
    """For each sortable column: its aria-sort state and the link that sorts by it."""
    columns = {}
    for key in queries.SORTS:
        active = form.sort_key == key
        next_dir = "asc" if active and form.is_descending else "desc"
        params = request.GET.copy()
        params["sort"], params["dir"] = key, next_dir
        params.pop("cursor", None)
        params.pop("open", None)
        columns[key] = {
            "aria": ("descending" if form.is_descending else "ascending") if active else "none",
            "query": params.urlencode(),
            "arrow": ("▼" if form.is_descending else "▲") if active else "",
        }
    return columns


def _detail_context(portal: Portal, invoice_id: int) -> dict[str, object]:
    detail = queries.invoice_detail(portal.client_id, invoice_id, portal.today)
    line_choices = [(ln.id, ln.description) for ln in detail.lines]
    return {
        "detail": detail,
        "dispute_form": DisputeForm(line_choices=line_choices),
        "message_form": MessageForm(),
        "withdraw_form": WithdrawForm(),
        "disputable": detail.row.status != "void" and detail.open_dispute is None,
        "reported": queries.payment_reported(portal.client_id, invoice_id),
        "refresh_row": False,
    }


def _invoice_response(
    request: HtmxHttpRequest, context: dict[str, object], status: int = 200
) -> HttpResponse:
    """The drilldown alone for htmx, else the invoice's own page around it."""
    context["heading_level"] = _heading_level(request)
    template = "portal/_invoice_detail.html" if request.htmx else "portal/invoice.html"
    return render(request, template, context, status=status)


@require_GET
@vary_on_headers("HX-Request")
@client_portal
def invoice(request: HtmxHttpRequest, portal: Portal, number: str) -> HttpResponse:
    """The invoice's permanent page, or (for htmx) its drilldown inside the table."""
    context = {"portal": portal, **_detail_context(portal, invoice_id_from_number(portal, number))}
    return _invoice_response(request, context)


@require_GET
@vary_on_headers("HX-Request")
@client_portal
def line_events(
    request: HtmxHttpRequest, portal: Portal, number: str, line_id: int
) -> HttpResponse:
    # One scoped read: the line (of this client, on an issued invoice) and its page of
    # events; the invoice in the URL must be the line's own.
    at_event = request.GET.get("event", "")
    page = queries.line_events(
        portal.client_id,
        line_id,
        request.GET.get("cursor"),
        at_event=int(at_event) if at_event.isdigit() and len(at_event) < 19 else None,
        find=request.GET.get("q", "")[:200],
    )
    if page.invoice_number != number:
        raise Http404("no such line on this invoice")
    context: dict[str, object] = {"portal": portal, "page": page, "number": number}
    template = "portal/_line_events.html" if request.htmx else "portal/line_events.html"
    return render(request, template, context)


@require_POST
@client_portal
def dispute_invoice(request: HtmxHttpRequest, portal: Portal, number: str) -> HttpResponse:
    invoice_id = invoice_id_from_number(portal, number)
    detail = queries.invoice_detail(portal.client_id, invoice_id, portal.today)
    form = DisputeForm(
        request.POST, request.FILES, line_choices=[(ln.id, ln.description) for ln in detail.lines]
    )
    if form.is_valid():
        try:
            amount = form.cleaned_data["amount"]
            amount_minor = (
                parse_amount(amount, portal.client.currency) if amount is not None else None
            )
            open_dispute(
                actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
                client=_client(request),
                invoice_id=invoice_id,
                reason=form.cleaned_data["reason"],
                amount_minor=amount_minor,
                line_ids=form.cleaned_data["lines"] or None,
                attachments=form.cleaned_data["attachments"],
            )
        except MoneyError:  # more decimals than the currency has
            form.add_error("amount", too_many_decimals(portal.client.currency))
        except DomainError as e:
            show_refusal(form, e)
        else:
            if not request.htmx:  # with htmx the conversation itself appears in place
                messages.success(
                    request, f"Dispute opened on {number}. We'll answer in the conversation below."
                )
            return _back_to_invoice(request, portal, number, done="dispute_opened")
    context = {"portal": portal, **_detail_context(portal, invoice_id), "dispute_form": form}
    return _invoice_response(request, context, status=422)


@require_POST
@client_portal
def post_message(
    request: HtmxHttpRequest, portal: Portal, number: str, dispute_id: int
) -> HttpResponse:
    invoice_id = invoice_id_from_number(portal, number)
    detail_context = _detail_context(portal, invoice_id)
    _dispute_of(detail_context, dispute_id)
    form = MessageForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            post_dispute_message(
                actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
                client=_client(request),
                dispute_id=dispute_id,
                body=form.cleaned_data["body"],
                attachments=form.cleaned_data["attachments"],
            )
        except DomainError as e:
            show_refusal(form, e)
        else:
            return _back_to_invoice(request, portal, number, done="message_sent")
    context = {"portal": portal, **detail_context, "message_form": form}
    return _invoice_response(request, context, status=422)


@require_POST
@client_portal
def withdraw(
    request: HtmxHttpRequest, portal: Portal, number: str, dispute_id: int
) -> HttpResponse:
    """The client takes back its own open dispute; the invoice is owed as issued again."""
    invoice_id = invoice_id_from_number(portal, number)
    detail_context = _detail_context(portal, invoice_id)
    if _dispute_of(detail_context, dispute_id).status != "open":  # a second click, say
        if not request.htmx:
            messages.info(request, "That dispute was already resolved.")
        return _back_to_invoice(request, portal, number, done="")
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            withdraw_dispute(
                actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
                client=_client(request),
                dispute_id=dispute_id,
                summary=form.cleaned_data["why"],
            )
        except DomainError as e:
            show_refusal(form, e)
        else:
            if not request.htmx:
                messages.success(request, f"You withdrew your dispute on {number}.")
            return _back_to_invoice(request, portal, number, done="dispute_withdrawn")
    context = {"portal": portal, **detail_context, "withdraw_form": form}
    return _invoice_response(request, context, status=422)


def _dispute_of(detail_context: dict[str, object], dispute_id: int) -> queries.DisputeView:
    """A message or a withdrawal names a dispute of this invoice, else 404 (a resolved one
    is refused by the service, with its reason on the form)."""
    detail = detail_context["detail"]
    assert isinstance(detail, queries.InvoiceDetail)
    for dispute in detail.disputes:
        if dispute.id == dispute_id:
            return dispute
    raise Http404("no such dispute")


def _client(request: HtmxHttpRequest):  # noqa: ANN202
    """The signed-in user's own client, for the services (which check ownership again)."""
    return request.user.client  # type: ignore[union-attr]


def _on_billing_page(request: HtmxHttpRequest) -> bool:
    """Whether the drilldown lands on the billing page (an htmx request's page is the one
    it was sent from), rather than on the invoice's own page."""
    page = urlparse(request.htmx.current_url or "").path if request.htmx else request.path
    return page == reverse("home")


def _heading_level(request: HtmxHttpRequest) -> int:
    """The drilldown's headings sit under the table's h2 on the billing page; on the
    invoice's own page its heading is the page's h1."""
    return 3 if _on_billing_page(request) else 1


def _back_to_invoice(
    request: HtmxHttpRequest, portal: Portal, number: str, done: str
) -> HttpResponse:
    """After a dispute is opened or a message posted (`done` says which, for the notice)."""
    if not request.htmx:
        return redirect(reverse("portal:invoice", args=[number]))
    invoice_id = invoice_id_from_number(portal, number)
    # On the billing page the row's status badge in the table and the cards (they count
    # disputes and overdue money) are swapped out-of-band. The invoice's own page has
    # neither: an out-of-band swap with no target is an htmx error there.
    on_billing_page = _on_billing_page(request)
    context = {"portal": portal, **_detail_context(portal, invoice_id)}
    context |= {"done": done, "heading_level": _heading_level(request), "cards": None}
    if on_billing_page:
        context["refresh_row"] = True
        context["cards"] = queries.stat_cards(portal.client_id, portal.today)
        # The cards are drawn again: the one the table is filtered by stays marked.
        shown = QueryDict(urlparse(request.htmx.current_url or "").query)
        form = InvoiceFilterForm(shown or None, currency=portal.client.currency, today=portal.today)
        context["active_card"] = form.active_card if form.is_bound and form.is_valid() else None
    return render(request, "portal/_invoice_detail_swap.html", context)


@require_GET
@client_portal
def aging(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    form = AgingDayForm(request.GET if "as_of" in request.GET else None, today=portal.today)
    as_of = form.day
    report = queries.aging(portal.client_id, as_of)
    context = {"portal": portal, "report": report, "form": form, "is_today": as_of == portal.today}
    return render(request, "portal/aging.html", context)


@require_GET
@client_portal
def payments(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    """Payments received and what each paid: the page behind "Paid year to date"."""
    form = PaymentFilterForm(request.GET or None)
    received_from, received_to = form.valid("received_from"), form.valid("received_to")
    page = queries.payment_page(
        portal.client_id, received_from, received_to, cursor=request.GET.get("cursor")
    )
    return render(
        request,
        "portal/payments.html",
        {
            "portal": portal,
            "form": form,
            "page": page,
            "filtered": received_from is not None or received_to is not None,
        },
    )


# -- What the client tells the 3PL about money: credit to apply, a payment made. ---------
# One flow for both: a form with a one-time key, a service that validates and records
# it once, the list of what was asked and answered.


def _send_notice(
    request: HtmxHttpRequest,
    portal: Portal,
    form: NoticeForm,
    *,
    template: str,
    send: Callable[[dict], object],
    done: str,
    context: dict[str, object],
) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        try:
            send(form.cleaned_data)
        except DomainError as e:
            for problem in e.problems or [Problem(e.message)]:
                message = problem.message[:1].upper() + problem.message[1:]
                form.add_error(
                    form.problem_field(problem.field, problem.row),
                    message if message.endswith(".") else f"{message}.",
                )
        else:
            messages.success(request, done)
            return redirect("portal:requests")
    status = 422 if form.is_bound else 200
    return render(request, template, {"portal": portal, "form": form, **context}, status=status)


def _fresh(request: HtmxHttpRequest) -> Any:
    """The posted data, or None for a fresh form (with a new one-time key)."""
    return request.POST if request.method == "POST" else None


@require_http_methods(["GET", "POST"])
@client_portal
def apply_credit(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    choices = queries.notice_choices(portal.client_id)
    form = CreditRequestForm(
        _fresh(request),
        initial={"key": uuid.uuid4()},
        currency=choices.currency,
        invoices=choices.invoices,
    )
    return _send_notice(
        request,
        portal,
        form,
        template="portal/request_credit.html",
        send=lambda data: ask_to_apply_credit(
            actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
            client=_client(request),
            lines=data["lines"],
            key=data["key"],
        ),
        done="Sent. We'll apply your credit and you'll see it here and on the invoices.",
        context={"choices": choices},
    )


@require_http_methods(["GET", "POST"])
@client_portal
def report_paid(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    choices = queries.notice_choices(portal.client_id)
    chosen = [inv.id for inv in choices.invoices if inv.number == request.GET.get("invoice")]
    form = RemittanceForm(
        _fresh(request),
        initial={
            "key": uuid.uuid4(),
            "currency": choices.currency,
            "paid_on": portal.today,
            "invoices": chosen,
        },
        currency=choices.currency,
        invoices=choices.invoices,
        today=portal.today,
    )
    return _send_notice(
        request,
        portal,
        form,
        template="portal/request_paid.html",
        send=lambda data: report_payment(
            actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
            client=_client(request),
            amount_minor=data["amount_minor"],
            currency=data["currency"],
            paid_on=data["paid_on"],
            method=data["method"],
            reference=data["reference"],
            invoice_ids=data["invoices"],
            key=data["key"],
            today=portal.today,
        ),
        done="Thank you: we'll match your payment when it reaches our bank.",
        context={"choices": choices},
    )


@require_GET
@client_portal
def requests(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    page = queries.notice_page(portal.client_id, request.GET.get("cursor"))
    choices = queries.notice_choices(portal.client_id)
    return render(
        request, "portal/requests.html", {"portal": portal, "page": page, "choices": choices}
    )


@require_GET
@client_portal
def activity(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    """This month's activity, the last twelve months', and the charges accrued so far."""
    data = queries.activity(portal.client_id, portal.today)
    return render(
        request,
        "portal/activity.html",
        {
            "portal": portal,
            "activity": data,
            "charts": charts.activity_charts(data),
            "kinds": queries.KINDS,
        },
    )


@require_GET
@client_portal
def accrued_line_events(request: HtmxHttpRequest, portal: Portal, slug: str) -> HttpResponse:
    """The events behind a line of this month's estimate, a page at a time."""
    page = queries.accrued_line_events(
        portal.client_id, portal.today, slug, request.GET.get("cursor")
    )
    context: dict[str, object] = {
        "portal": portal,
        "page": page,
        "events_url": reverse("portal:accrued_line_events", args=[slug]),
        "box_id": f"accrued-{slug}",
    }
    template = "portal/_accrued_events.html" if request.htmx else "portal/accrued_events.html"
    return render(request, template, context)


def statement_state(
    request: HtmxHttpRequest, portal: Portal
) -> tuple[StatementForm, queries.Statement | None]:
    """The statement form as the query string fills it (the range of the last three
    months until one is chosen), and the statement of a valid range."""
    if not request.GET:
        start, end = StatementForm.default_range(portal.today)
        form = StatementForm({"start": start, "end": end}, today=portal.today)
    else:
        form = StatementForm(request.GET, today=portal.today)
    if not form.is_valid():
        return form, None
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    return form, queries.statement(portal.client_id, start, end)


@require_GET
@client_portal
def statement(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    """The statement of account for a range of days: opening balance, every movement with
    the balance after it, closing balance, per currency."""
    form, result = statement_state(request, portal)
    return render(
        request,
        "portal/statement.html",
        {"portal": portal, "form": form, "statement": result},
        status=200 if result is not None else 422,
    )
