"""The dispute desk: the queue of open disputes, and one dispute's page with its
conversation, internal notes and resolution."""

from collections.abc import Callable
from functools import partial
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tally.errors import DomainError
from tally.money import format_money, to_decimal
from tally.web import download

from ..access import Console, operator_console
from ..forms.common import KeyedForm
from ..forms.disputes import GiveBackForm, NoteForm, ReplyForm, ResolveForm, TakeForm
from ..queries import disputes as queries
from ..services import disputes as services
from ..services.submissions import new_key
from .common import add_domain_errors, submit

# A service's field names, as the console's forms call them.
FIELDS = {"amount": "credit_amount", "reason": "credit_reason"}


@operator_console
@require_GET
def disputes(request: HttpRequest, console: Console) -> HttpResponse:
    owner = queries.DeskOwner.parse(request.GET.get("owner"))
    desk = queries.dispute_desk(
        console.today, cursor=request.GET.get("cursor"), owner=owner, operator_id=console.user.pk
    )
    context = {
        "console": console,
        "desk": desk,
        "owner": owner,
        "owners": queries.DeskOwner,
        "nav": "disputes",
        "new_key": new_key,
    }
    return render(request, "console/disputes.html", context)


def _page(dispute_id: int) -> queries.DisputePage:
    page = queries.dispute_page(dispute_id)
    if page is None:
        raise Http404("no such dispute")
    return page


def _resolve_form(page: queries.DisputePage, console: Console, **kw: Any) -> ResolveForm:
    return ResolveForm(
        currency=page.invoice.currency,
        creditable_minor=page.invoice.creditable_minor,
        locale=console.locale,
        **kw,
    )


def _render_dispute(
    request: HttpRequest, console: Console, page: queries.DisputePage, **forms: KeyedForm
) -> HttpResponse:
    """The dispute page; a refused form comes back with its errors (and its unclaimed key),
    every other form fresh."""
    credit = page.suggested_credit_minor
    fresh = {
        "take_form": TakeForm(initial={"key": new_key(), "from_owner": page.owner_id}),
        "give_back_form": GiveBackForm(initial={"key": new_key()}),
        "reply_form": ReplyForm(initial={"key": new_key()}),
        "note_form": NoteForm(initial={"key": new_key()}),
        "resolve_form": _resolve_form(
            page,
            console,
            initial={
                "key": new_key(),
                "credit_amount": to_decimal(credit, page.invoice.currency) if credit else None,
            },
        ),
    }
    context = {"console": console, "page": page, "nav": "disputes", **fresh, **forms}
    return render(request, "console/dispute.html", context)


@operator_console
@require_GET
def dispute(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    return _render_dispute(request, console, _page(dispute_id))


def _submit_on_page(
    request: HttpRequest,
    console: Console,
    page: queries.DisputePage,
    *,
    form: KeyedForm,
    name: str,
    anchor: str,
    done: Callable[[], HttpResponse] | None = None,
    **kw: Any,
) -> HttpResponse:
    """A form on a dispute's page: back to the page's section on success (or `done`), the
    page with the form's errors on refusal."""
    return submit(
        request,
        form=form,
        done=done or (lambda: redirect(reverse("console:dispute", args=[page.id]) + f"#{anchor}")),
        # Read again: a refusal may come from a change made meanwhile (a new owner).
        again=lambda f: _render_dispute(request, console, _page(page.id), **{name: f}),
        refused=partial(_refused, page=page, console=console),
        **kw,
    )


@operator_console
@require_POST
def take(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    page = _page(dispute_id)
    form = TakeForm(request.POST)
    over = f" over from {page.owner_name}" if page.owner_id else ""
    done = None
    if request.POST.get("next") == "desk":
        # Taken from the desk's row: back to the desk as the operator left it.
        back = request.POST.get("back", "")
        desk = reverse("console:disputes")
        done = lambda: redirect(desk + back if back.startswith("?") else desk)  # noqa: E731
    return _submit_on_page(
        request,
        console,
        page,
        form=form,
        name="take_form",
        anchor="owner",
        done=done,
        act=lambda data: services.take(
            actor=console.user,
            dispute_id=dispute_id,
            from_owner_id=data["from_owner"],
            key=data["key"],
        ),
        message=f"You took the dispute on {page.invoice.number}{over}.",
    )


@operator_console
@require_POST
def give_back(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    page = _page(dispute_id)
    return _submit_on_page(
        request,
        console,
        page,
        form=GiveBackForm(request.POST),
        name="give_back_form",
        anchor="owner",
        act=lambda data: services.give_back(
            actor=console.user, dispute_id=dispute_id, key=data["key"]
        ),
        message=f"You gave the dispute on {page.invoice.number} back: anyone may take it.",
    )


@operator_console
@require_POST
def reply(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    page = _page(dispute_id)
    return _submit_on_page(
        request,
        console,
        page,
        form=ReplyForm(request.POST, request.FILES),
        name="reply_form",
        anchor="conversation",
        act=lambda data: services.reply_to_dispute(
            actor=console.user,
            dispute_id=dispute_id,
            body=data["body"],
            key=data["key"],
            attachments=data["attachments"],
        ),
        message=f"Reply sent to {page.client_name}.",
    )


@operator_console
@require_POST
def note(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    return _submit_on_page(
        request,
        console,
        _page(dispute_id),
        form=NoteForm(request.POST),
        name="note_form",
        anchor="notes",
        act=lambda data: services.note_on_dispute(
            actor=console.user, dispute_id=dispute_id, body=data["body"], key=data["key"]
        ),
        message="Internal note added. The client never sees it.",
    )


@operator_console
@require_POST
def resolve(request: HttpRequest, console: Console, dispute_id: int) -> HttpResponse:
    page = _page(dispute_id)
    return _submit_on_page(
        request,
        console,
        page,
        form=_resolve_form(page, console, data=request.POST),
        name="resolve_form",
        anchor="resolution",
        act=lambda data: services.settle_dispute(
            actor=console.user,
            dispute_id=dispute_id,
            resolution=data["resolution"],
            summary=data["summary"],
            credit_amount_minor=data["credit_amount_minor"],
            credit_reason=data["credit_reason"],
            key=data["key"],
        ),
        message=f"Dispute resolved. {page.client_name} sees the summary.",
    )


def _refused(
    form: KeyedForm, error: DomainError, *, page: queries.DisputePage, console: Console
) -> None:
    """A service's refusal, each problem next to its field in the console's words."""
    invoice = page.invoice
    if error.code == "dispute_owner_changed":
        form.add_error(None, f"{_sentence_of(error)} Reload to see who has it now.")
    elif error.code == "dispute_resolved":
        form.add_error(None, "This dispute has been resolved meanwhile; reload to see how.")
    elif error.code in ("credit_exceeds_invoice", "credit_exceeds_balance"):
        # Re-read: a payment or credit may have changed the invoice since the page was drawn.
        latest = _page(page.id).invoice
        limit = format_money(latest.creditable_minor, invoice.currency, console.locale)
        form.add_error(
            "credit_amount",
            f"Must be at most {limit}, what the invoice billed less earlier credits.",
        )
    elif error.code == "invoice_not_open":
        form.add_error(
            "credit_amount",
            f"{invoice.number} is {invoice.status}: only an open or paid invoice can be "
            "credited. Resolve as charge upheld or withdrawn instead.",
        )
    else:
        add_domain_errors(form, error, FIELDS)


def _sentence_of(error: DomainError) -> str:
    text = error.message[:1].upper() + error.message[1:]
    return text if text.endswith(".") else f"{text}."


@operator_console
@require_GET
def attachment(
    request: HttpRequest, console: Console, dispute_id: int, attachment_id: int, filename: str
) -> HttpResponse:
    """A file sent in the dispute's conversation: a download under its stored name."""
    file = queries.attachment_file(dispute_id, attachment_id)
    return download(file.data, file.content_type, file.filename)
