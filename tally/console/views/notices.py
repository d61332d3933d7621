"""What clients told the 3PL about money: a queue per kind (credit to apply, payments
reported), oldest first, and one notice's page, where the operator applies the credit,
records the payment reported, or declines with a reason the client reads."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tally.payments.models import NoticeKind

from ..access import Console, operator_console
from ..forms.common import KeyedForm
from ..forms.notices import ApplyCreditForm, DeclineForm, MatchAdviceForm
from ..queries import notices as queries
from ..services import notices as services
from ..services.submissions import new_key
from .common import submit


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@operator_console
@require_GET
def queue(request: HttpRequest, console: Console, kind: str) -> HttpResponse:
    if kind not in queries.KINDS:
        raise Http404("no such queue")
    client_id = _int(request.GET.get("client"))
    listing = queries.notice_queue(
        queries.KINDS[kind], client_id=client_id, cursor=request.GET.get("cursor")
    )
    context = {
        "console": console,
        "nav": "payments",
        "listing": listing,
        "kind": kind,
        "title": queries.KIND_TITLES[queries.KINDS[kind]],
        "client_id": client_id,
    }
    return render(request, "console/notices.html", context)


def _detail(notice_id: int) -> queries.NoticeDetail:
    detail = queries.notice_detail(notice_id)
    if detail is None:
        raise Http404("no such request")
    return detail


def _match_form(payments: list[queries.MatchablePayment], **kw: Any) -> MatchAdviceForm:
    return MatchAdviceForm(payments=[(p.id, f"#{p.id}") for p in payments], **kw)


def _render(
    request: HttpRequest, console: Console, notice_id: int, **forms: KeyedForm
) -> HttpResponse:
    detail = _detail(notice_id)
    remittance = detail.row.kind == NoticeKind.REMITTANCE
    payments = queries.matchable_payments(detail.row.client_id) if remittance else []
    fresh: dict[str, Any] = {
        "apply_form": ApplyCreditForm(initial={"key": new_key()}),
        "decline_form": DeclineForm(initial={"key": new_key()}),
        "match_form": _match_form(payments, initial={"key": new_key()}),
    }
    context = {
        "console": console,
        "nav": "payments",
        "detail": detail,
        "payments": payments,
        **fresh,
        **forms,
    }
    return render(request, "console/notice.html", context)


@operator_console
@require_GET
def notice(request: HttpRequest, console: Console, notice_id: int) -> HttpResponse:
    return _render(request, console, notice_id)


def _back_to_queue(notice_id: int) -> HttpResponse:
    kind = next(k for k, v in queries.KINDS.items() if v == _detail(notice_id).row.kind)
    return redirect(reverse("console:notices", args=[kind]))


@operator_console
@require_POST
def apply(request: HttpRequest, console: Console, notice_id: int) -> HttpResponse:
    detail = _detail(notice_id)
    return submit(
        request,
        form=ApplyCreditForm(request.POST),
        act=lambda data: services.apply_requested_credit(
            actor=console.user, notice_id=notice_id, key=data["key"]
        ),
        done=lambda: _back_to_queue(notice_id),
        again=lambda f: _render(request, console, notice_id, apply_form=f),
        message=f"Credit applied as {detail.row.client_name} asked.",
    )


@operator_console
@require_POST
def decline(request: HttpRequest, console: Console, notice_id: int) -> HttpResponse:
    detail = _detail(notice_id)
    return submit(
        request,
        form=DeclineForm(request.POST),
        act=lambda data: services.decline(
            actor=console.user, notice_id=notice_id, reason=data["reason"], key=data["key"]
        ),
        done=lambda: _back_to_queue(notice_id),
        again=lambda f: _render(request, console, notice_id, decline_form=f),
        message=f"Declined. {detail.row.client_name} reads your reason in the portal.",
    )


@operator_console
@require_POST
def match(request: HttpRequest, console: Console, notice_id: int) -> HttpResponse:
    detail = _detail(notice_id)
    payments = queries.matchable_payments(detail.row.client_id)
    return submit(
        request,
        form=_match_form(payments, data=request.POST),
        act=lambda data: services.match_to_payment(
            actor=console.user, notice_id=notice_id, payment_id=data["payment"], key=data["key"]
        ),
        done=lambda: _back_to_queue(notice_id),
        again=lambda f: _render(request, console, notice_id, match_form=f),
        message=f"Closed as matched to the payment. {detail.row.client_name} sees it done.",
    )
