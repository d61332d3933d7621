"""Invoices: every client's issued invoices, and one invoice's page with its actions."""

from functools import partial
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from tally.errors import DomainError
from tally.invoicing.naming import draft_name
from tally.money import format_money

from ..access import Console, operator_console
from ..forms.common import KeyedForm
from ..forms.invoices import CreditForm, InvoiceFilterForm, VoidForm
from ..queries import invoice_detail as detail
from ..queries import invoices as queries
from ..queries.line_events import line_events as line_events_of
from ..services import invoices as services
from ..services.submissions import new_key
from .common import add_domain_errors, submit
from .invoice_emails import invoice_emails_context


def _sort_columns(request: HttpRequest, form: InvoiceFilterForm) -> dict[str, dict[str, str]]:
    """For each sortable column: its aria-sort state and the link that sorts by it."""
    columns = {}
    for key in queries.SORTS:
        active = form.sort_key == key
        params = request.GET.copy()
        params["sort"], params["dir"] = key, "asc" if active and form.is_descending else "desc"
        params.pop("cursor", None)
        columns[key] = {
            "aria": ("descending" if form.is_descending else "ascending") if active else "none",
            "query": params.urlencode(),
            "arrow": ("▼" if form.is_descending else "▲") if active else "",
        }
    return columns


@operator_console
@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def invoices(request: HttpRequest, console: Console) -> HttpResponse:
    form = InvoiceFilterForm(
        request.GET or None,
        clients=queries.client_choices(),
        currencies=queries.currency_choices(),
        today=console.today,
    )
    if form.is_bound:
        form.is_valid()
    page = queries.invoice_page(
        console.today,
        form.filters(),
        sort=form.sort_key,
        descending=form.is_descending,
        cursor=request.GET.get("cursor"),
    )
    context = {
        "console": console,
        "form": form,
        "page": page,
        "sort_columns": _sort_columns(request, form),
        "nav": "invoices",
    }
    if getattr(request, "htmx", None) and request.htmx.target == "invoice-table":  # type: ignore[attr-defined]
        return render(request, "console/_invoice_table.html", context)
    return render(request, "console/invoices.html", context)


# -- one invoice ----------------------------------------------------------------------------
def _view(console: Console, invoice_id: int) -> detail.InvoiceView:
    return detail.invoice_view(invoice_id, console.today)


def _credit_form(view: detail.InvoiceView, console: Console, **kw: Any) -> CreditForm:
    return CreditForm(
        currency=view.currency,
        balance_minor=view.balance_minor,
        lines=[
            (ln.id, ln.description, ln.amount_minor) for ln in view.lines if ln.amount_minor > 0
        ],
        locale=console.locale,
        **kw,
    )


def _payment_url(payment_id: int) -> str | None:
    """The payment's console page, once the console has one."""
    try:
        return reverse("console:payment", args=[payment_id])
    except NoReverseMatch:
        return None


def _render_invoice(
    request: HttpRequest, console: Console, view: detail.InvoiceView, **forms: KeyedForm
) -> HttpResponse:
    fresh = {
        "void_form": VoidForm(initial={"key": new_key()}),
        "credit_form": _credit_form(view, console, initial={"key": new_key()}),
    }
    context = {
        "console": console,
        "inv": view,
        "nav": "invoices",
        "payment_url": _payment_url,
        **invoice_emails_context(view.id),
        **fresh,
        **forms,
    }
    return render(request, "console/invoice.html", context)


@operator_console
@require_GET
def invoice(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    return _render_invoice(request, console, _view(console, invoice_id))


@operator_console
@require_GET
@vary_on_headers("HX-Request")
def line_events(
    request: HttpRequest, console: Console, invoice_id: int, line_id: int
) -> HttpResponse:
    events = line_events_of(invoice_id, line_id, request.GET.get("cursor"))
    context = {
        "console": console,
        "events": events,
        "events_url": reverse("console:invoice_line", args=[invoice_id, line_id]),
        "nav": "invoices",
    }
    if getattr(request, "htmx", None):
        return render(request, "console/_line_events.html", context)
    return render(request, "console/line_events.html", context)


def _back(view: detail.InvoiceView, anchor: str) -> HttpResponse:
    return redirect(reverse("console:invoice", args=[view.id]) + f"#{anchor}")


@operator_console
@require_POST
def void(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    view = _view(console, invoice_id)
    form = VoidForm(request.POST)
    regenerate = request.POST.get("then") == "regenerate"
    made: dict[str, Any] = {}

    def act(data: dict[str, Any]) -> None:
        if regenerate:
            made["draft"] = services.void_and_replace(
                actor=console.user, invoice_id=invoice_id, reason=data["reason"], key=data["key"]
            )
        else:
            services.void(
                actor=console.user, invoice_id=invoice_id, reason=data["reason"], key=data["key"]
            )

    def done() -> HttpResponse:
        draft = made.get("draft")
        if draft is not None:
            messages.info(request, _rebilled(draft.pk, view))
        return _back(view, "top")

    return submit(
        request,
        form=form,
        act=act,
        done=done,
        again=lambda f: _render_invoice(request, console, view, void_form=f),
        message=f"{view.number} is void."
        + (" Its replacement is a draft to review and issue." if regenerate else ""),
        refused=partial(_void_refused, view=view, console=console),
    )


def _rebilled(draft_id: int, view: detail.InvoiceView) -> str:
    """What the replacement bills, against what the void invoice billed."""
    billed = sum(line.event_count for line in view.lines)
    again = detail.events_billed(draft_id)
    events = f"{again:,} event{'' if again == 1 else 's'}"
    if again == billed:
        return f"Replacement {draft_name(draft_id)} bills the same {events}, at today’s rates."
    return (
        f"Replacement {draft_name(draft_id)} bills {events} of the {billed:,} {view.number} billed, "
        f"at today’s rates; the other {billed - again:,} have no price today and stay unbilled."
    )


def _void_refused(
    form: KeyedForm, error: DomainError, *, view: detail.InvoiceView, console: Console
) -> None:
    """Why the invoice cannot be voided, in the operator's words, with the way out."""
    if error.code == "invoice_not_voidable":
        now = detail.invoice_view(view.id, console.today)
        if now.is_void:
            form.add_error(None, f"{view.number} was voided meanwhile; reload to see it.")
        else:
            form.add_error(
                None, f"{view.number} is {now.status_label.lower()}: it cannot be voided."
            )
    elif error.code == "invoice_has_payments":
        paid = format_money(view.allocated_minor, view.currency, console.locale)
        credited = format_money(view.credited_minor, view.currency, console.locale)
        if view.allocated_minor:
            form.add_error(
                None,
                f"{paid} of payments is allocated to {view.number}. Un-allocate the payment "
                "from it first (on the payment's page), then void it.",
            )
        if view.credited_minor:
            form.add_error(
                None,
                f"{view.number} has been credited {credited}. An invoice with a credit note "
                "cannot be voided; credit the rest instead.",
            )
    elif error.code == "invoice_disputed":
        form.add_error(
            None, f"{view.number} has an open dispute. Resolve it on the dispute desk first."
        )
    elif error.code == "nothing_to_regenerate":
        form.add_error(
            None,
            "Nothing this invoice billed has a price today, so the replacement would be "
            "empty. Nothing was voided.",
        )
    else:
        add_domain_errors(form, error)


@operator_console
@require_POST
def credit(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    view = _view(console, invoice_id)
    return submit(
        request,
        form=_credit_form(view, console, data=request.POST),
        act=lambda data: services.credit(
            actor=console.user,
            invoice_id=invoice_id,
            amount_minor=data["amount_minor"],
            lines=data["line_amounts"],
            reason=data["reason"],
            key=data["key"],
        ),
        done=lambda: _back(view, "credit-notes"),
        again=lambda f: _render_invoice(request, console, view, credit_form=f),
        message=f"Credit note created on {view.number}. {view.client_name} sees it and its reason.",
        refused=partial(_credit_refused, view=view, console=console),
    )


def _credit_refused(
    form: KeyedForm, error: DomainError, *, view: detail.InvoiceView, console: Console
) -> None:
    if error.code == "invoice_not_open":
        form.add_error(
            None, f"{view.number} is {view.status_label.lower()}: only an open invoice is credited."
        )
    elif error.code == "credit_exceeds_balance":
        owed = format_money(view.balance_minor, view.currency, console.locale)
        field = "amount" if form.data.get("amount") else "lines"
        form.add_error(field, f"Must be at most {owed}, what the invoice still owes.")
    else:
        add_domain_errors(form, error)
