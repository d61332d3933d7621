"""The console's pages. Thin: read through `queries`, write through `services`.

`operator_console` comes first on every view, before the method check: a client user gets
a 404 whatever the method, never a 405 that would say the page exists.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tally.errors import DomainError
from tally.money import format_money, to_decimal

from . import queries, services
from .access import Console, operator_console
from .forms import KeyedForm, NoteForm, ReplyForm, ResolveForm

# A service's field names, as the console's forms call them.
FIELDS = {"amount": "credit_amount", "reason": "credit_reason"}


@operator_console
@require_GET
def home(request: HttpRequest, console: Console) -> HttpResponseBase:
    """Where operators land after signing in: the dispute desk, until the overview lands."""
    return redirect("console:disputes")


@operator_console
@require_GET
def disputes(request: HttpRequest, console: Console) -> HttpResponse:
    desk = queries.dispute_desk(console.today, cursor=request.GET.get("cursor"))
    return render(
        request, "console/disputes.html", {"console": console, "desk": desk, "nav": "disputes"}
    )


def _page(dispute_id: int) -> queries.DisputePage:
    page = queries.dispute_page(dispute_id)
    if page is None:
        raise Http404("no such dispute")
    return page


def _resolve_form(page: queries.DisputePage, console: Console, **kw: object) -> ResolveForm:
    return ResolveForm(
        currency=page.invoice.currency,
        balance_minor=page.invoice.balance_minor,
        locale=console.locale,
        **kw,  # type: ignore[arg-type]
    )


def _render_dispute(
    request: HttpRequest,
    console: Console,
    page: queries.DisputePage,
    status: int = 200,
    **forms: KeyedForm,
) -> HttpResponse:
    """The dispute page; a refused form comes back with its errors (and its unclaimed key),
    every other form fresh."""
    credit = page.suggested_credit_minor
    fresh = {
        "reply_form": ReplyForm(initial={"key": services.new_key()}),
        "note_form": NoteForm(initial={"key": services.new_key()}),
        "resolve_form": _resolve_form(
            page,
            console,
            initial={
                "key": services.new_key(),
                "credit_amount": to_decimal(credit, page.invoice.currency) if credit else None,
            },
        ),
    }
    context = {"console": console, "page": page, "nav": "disputes", **fresh, **forms}
    return render(request, "console/dispute.html", context, status=status)


@operator_console
@require_GET
def dispute(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    return _render_dispute(request, console, _page(dispute_id))


def _back(dispute_id: int, anchor: str) -> HttpResponse:
    return redirect(reverse("console:dispute", args=[dispute_id]) + f"#{anchor}")


def _submit(
    request: HttpRequest,
    console: Console,
    page: queries.DisputePage,
    *,
    form: KeyedForm,
    name: str,
    act: Callable[[dict[str, Any]], object],
    done: str,
    anchor: str,
) -> HttpResponse:
    """One posted form on a dispute's page: the service runs once per key; a refusal comes
    back as errors on the form, success as a message and a redirect (so a reload posts
    nothing)."""
    if form.is_valid():
        try:
            act(form.cleaned_data)
        except services.AlreadySubmitted:
            pass  # the first submission did it; answer as it was answered
        except DomainError as e:
            _form_errors(form, e, page, console)
        if not form.errors:
            messages.success(request, done)
            return _back(page.id, anchor)
    return _render_dispute(request, console, page, status=422, **{name: form})


@operator_console
@require_POST
def reply(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    page = _page(dispute_id)
    return _submit(
        request,
        console,
        page,
        form=ReplyForm(request.POST),
        name="reply_form",
        act=lambda data: services.reply_to_dispute(
            actor=console.user, dispute_id=dispute_id, body=data["body"], key=data["key"]
        ),
        done=f"Reply sent to {page.client_name}.",
        anchor="conversation",
    )


@operator_console
@require_POST
def note(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    return _submit(
        request,
        console,
        _page(dispute_id),
        form=NoteForm(request.POST),
        name="note_form",
        act=lambda data: services.note_on_dispute(
            actor=console.user, dispute_id=dispute_id, body=data["body"], key=data["key"]
        ),
        done="Internal note added. The client never sees it.",
        anchor="notes",
    )


@operator_console
@require_POST
def resolve(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    page = _page(dispute_id)
    return _submit(
        request,
        console,
        page,
        form=_resolve_form(page, console, data=request.POST),
        name="resolve_form",
        act=lambda data: services.settle_dispute(
            actor=console.user,
            dispute_id=dispute_id,
            resolution=data["resolution"],
            summary=data["summary"],
            credit_amount_minor=data["credit_amount_minor"],
            credit_reason=data["credit_reason"],
            key=data["key"],
        ),
        done=f"Dispute resolved. {page.client_name} sees the summary.",
        anchor="resolution",
    )


def _form_errors(
    form: KeyedForm, error: DomainError, page: queries.DisputePage, console: Console
) -> None:
    """A service's refusal, each problem next to its field in the console's words."""
    invoice = page.invoice
    if error.code == "dispute_resolved":
        form.add_error(None, "This dispute has been resolved meanwhile; reload to see how.")
    elif error.code == "credit_exceeds_balance":
        owed = format_money(invoice.balance_minor, invoice.currency, console.locale)
        form.add_error("credit_amount", f"Must be at most {owed}, what the invoice still owes.")
    elif error.code == "invoice_not_open":
        form.add_error(
            "credit_amount",
            f"{invoice.number} is {invoice.status}: only an open invoice can be credited. "
            "Resolve as charge upheld or withdrawn instead.",
        )
    elif error.problems:
        for problem in error.problems:
            field = FIELDS.get(problem.field or "", problem.field)
            message = problem.message[:1].upper() + problem.message[1:]
            form.add_error(
                field if field in form.fields else None,
                message if message.endswith(".") else f"{message}.",
            )
    else:
        form.add_error(None, error.message[:1].upper() + error.message[1:] + ".")
