"""Drafts to review: every client's drafts, one draft as its client will see it (lines,
the events behind them, the rates, the change against the last invoice), its
adjustments, issuing one or several, deleting one."""

from functools import partial
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import capfirst
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from tally.errors import DomainError
from tally.invoicing.naming import draft_name
from tally.money import format_money

from ..access import Console, operator_console
from ..forms.common import KeyedForm
from ..forms.drafts import (
    AdjustmentForm,
    DeleteDraftForm,
    IssueForm,
    IssueSeveralForm,
    RemoveAdjustmentForm,
)
from ..queries import drafts as queries
from ..queries.line_events import line_events as line_events_of
from ..services import drafts as services
from ..services.submissions import AlreadySubmitted, new_key
from .common import add_domain_errors, submit
from .invoice_emails import invoice_emails_context


@operator_console
@require_GET
def drafts(request: HttpRequest, console: Console) -> HttpResponse:
    return _render_list(request, console, IssueSeveralForm(initial={"key": new_key()}))


def _render_list(request: HttpRequest, console: Console, form: KeyedForm) -> HttpResponse:
    listing = queries.draft_list(cursor=request.GET.get("cursor"))
    context = {"console": console, "listing": listing, "issue_form": form, "nav": "drafts"}
    return render(request, "console/drafts.html", context)


def _page(invoice_id: int) -> queries.DraftPage:
    page = queries.draft_page(invoice_id)
    if page is None:
        raise Http404("no such draft")
    return page


def _render_draft(
    request: HttpRequest, console: Console, page: queries.DraftPage, **forms: KeyedForm
) -> HttpResponse:
    """The draft's page; a refused form comes back with its errors (and its unclaimed
    key), every other form fresh."""
    fresh: dict[str, Any] = {
        "adjust_form": AdjustmentForm(currency=page.currency, initial={"key": new_key()}),
        "remove_form": RemoveAdjustmentForm(initial={"key": new_key()}),
        "issue_form": IssueForm(initial={"key": new_key()}),
        "delete_form": DeleteDraftForm(initial={"key": new_key()}),
    }
    if page.number:  # issued: when it was emailed, and "send again"
        fresh.update(invoice_emails_context(page.id))
    context = {"console": console, "page": page, "nav": "drafts", **fresh, **forms}
    return render(request, "console/draft.html", context)


@operator_console
@require_GET
def draft(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    return _render_draft(request, console, _page(invoice_id))


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


@operator_console
@require_GET
@vary_on_headers("HX-Request")
def line_events(
    request: HtmxHttpRequest, console: Console, invoice_id: int, line_id: int
) -> HttpResponse:
    """A line's events, a page at a time (the query the invoice page's uses too); only
    the table when htmx asks for the next. Another invoice's line is a 404."""
    events = line_events_of(invoice_id, line_id, cursor=request.GET.get("cursor"))
    template = "console/_line_events.html" if request.htmx else "console/draft_line.html"
    context = {
        "console": console,
        "events": events,
        "events_url": reverse("console:draft_line", args=[invoice_id, line_id]),
        "nav": "drafts",
    }
    return render(request, template, context)


def _submit_on_page(
    request: HttpRequest,
    console: Console,
    page: queries.DraftPage,
    *,
    form: KeyedForm,
    name: str,
    anchor: str,
    **kw: Any,
) -> HttpResponse:
    return submit(
        request,
        form=form,
        done=lambda: redirect(reverse("console:draft", args=[page.id]) + f"#{anchor}"),
        again=lambda f: _render_draft(request, console, page, **{name: f}),
        refused=partial(_refused, page=page),
        **kw,
    )


@operator_console
@require_POST
def adjust(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    page = _page(invoice_id)
    return _submit_on_page(
        request,
        console,
        page,
        form=AdjustmentForm(request.POST, currency=page.currency),
        name="adjust_form",
        anchor="lines",
        act=lambda data: services.adjust_draft(
            actor=console.user,
            invoice_id=invoice_id,
            description=data["description"],
            amount_minor=data["amount_minor"],
            reason=data["reason"],
            key=data["key"],
        ),
        message="Adjustment added.",
    )


@operator_console
@require_POST
def remove_adjustment(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    page = _page(invoice_id)
    return _submit_on_page(
        request,
        console,
        page,
        form=RemoveAdjustmentForm(request.POST),
        name="remove_form",
        anchor="lines",
        act=lambda data: services.remove_draft_adjustment(
            actor=console.user, invoice_id=invoice_id, line_id=data["line"], key=data["key"]
        ),
        message="Adjustment removed.",
    )


@operator_console
@require_POST
def issue(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    page = _page(invoice_id)
    return submit(
        request,
        form=IssueForm(request.POST),
        act=lambda data: services.issue_draft(
            actor=console.user, invoice_id=invoice_id, key=data["key"]
        ),
        done=lambda: redirect(reverse("console:draft", args=[page.id]) + "#issued"),
        again=lambda f: _render_draft(request, console, page, issue_form=f),
        refused=partial(_refused, page=page),
        message=(
            f"Issued. {page.client_name} can see the invoice from now on; "
            "its email is on its way to their billing contacts."
        ),
    )


@operator_console
@require_POST
def delete(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    page = _page(invoice_id)
    return submit(
        request,
        form=DeleteDraftForm(request.POST),
        act=lambda data: services.delete_draft(
            actor=console.user, invoice_id=invoice_id, reason=data["reason"], key=data["key"]
        ),
        done=lambda: redirect("console:drafts"),
        again=lambda f: _render_draft(request, console, page, delete_form=f),
        refused=partial(_refused, page=page),
        message=(
            f"Draft of {page.client_name} for {format_money(page.total_minor, page.currency)} "
            "deleted. Its events will be billed by the next run."
        ),
    )


@operator_console
@require_POST
def issue_several(request: HttpRequest, console: Console) -> HttpResponse:
    """Issue the drafts ticked on the list: each issued, or refused with its reason."""
    form = IssueSeveralForm(request.POST)
    if not form.is_valid():
        response = _render_list(request, console, form)
        response.status_code = 422
        return response
    try:
        results = services.issue_drafts(
            actor=console.user,
            invoice_ids=form.cleaned_data["drafts"],
            key=form.cleaned_data["key"],
        )
    except AlreadySubmitted:
        messages.info(request, "These drafts were issued by the first submission of the form.")
        return redirect("console:drafts")
    issued = [r.invoice.display_number for r in results if r.invoice is not None]
    if issued:
        messages.success(
            request,
            f"Issued {len(issued)} invoice{'s' if len(issued) != 1 else ''}: "
            + ", ".join(issued)
            + ".",
        )
    for r in results:
        if r.error is not None:
            messages.error(request, _refusal_of(r.invoice_id, r.error))
    return redirect("console:drafts")


def _refusal_of(invoice_id: int, error: DomainError) -> str:
    """Why one draft of several was not issued, naming it."""
    page = queries.draft_page(invoice_id)
    if page is None:
        return f"{capfirst(draft_name(invoice_id))} no longer exists."
    name = f"{capfirst(draft_name(page.id))} of {page.client_name}"
    return f"{name} was not issued: {_why(error, page)}"


def _why(error: DomainError, page: queries.DraftPage) -> str:
    if error.code == "invoice_not_draft":
        if page.number:
            by = f" by {page.issued_by}" if page.issued_by else ""
            return f"it was issued meanwhile{by}, as {page.number}."
        by = f" by {page.voided_by}" if page.voided_by else ""
        return f"it was deleted meanwhile{by}."
    if error.code == "draft_empty":
        return "it has no lines, so there is nothing to issue. Delete it instead."
    if error.code == "not_found":
        return "it no longer exists."
    message = error.message[:1].upper() + error.message[1:]
    return message if message.endswith(".") else f"{message}."


def _refused(form: KeyedForm, error: DomainError, *, page: queries.DraftPage) -> None:
    """A service's refusal next to its field, in the console's words; a draft that changed
    meanwhile is read again to say what became of it."""
    if error.code in ("invoice_not_draft", "draft_empty"):
        form.add_error(None, _why(error, _page(page.id)))
    elif error.code == "negative_total" and "amount" not in form.fields:
        form.add_error(None, _why(error, page))
    else:
        add_domain_errors(form, error)
