"""Payments: every client's payments, one payment's page (where it went, its refunds, its
history; correct it, refund its credit), recording money received with a suggested
allocation, and each client's unapplied credit."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tally.errors import DomainError
from tally.money import to_decimal
from tally.payments.models import NoticeKind, Payment

from ..access import Console, operator_console
from ..forms.common import KeyedForm
from ..forms.payments import CorrectAllocationForm, RecordPaymentForm, RefundForm
from ..queries import notices as notice_queries
from ..queries import payments as queries
from ..services import payments as services
from ..services.submissions import AlreadySubmitted, new_key
from .common import add_domain_errors, submit


def invoice_href(invoice_id: int) -> str | None:
    """The invoice's console page, once there is one."""
    try:
        return reverse("console:invoice", args=[invoice_id])
    except NoReverseMatch:
        return None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@operator_console
@require_GET
def payments(request: HttpRequest, console: Console) -> HttpResponse:
    client_id = _int(request.GET.get("client"))
    with_credit = request.GET.get("credit") == "1"
    listing = queries.payment_list(
        client_id=client_id, with_credit=with_credit, cursor=request.GET.get("cursor")
    )
    context = {
        "console": console,
        "nav": "payments",
        "listing": listing,
        "clients": queries.client_choices(),
        "client_id": client_id,
        "with_credit": with_credit,
    }
    return render(request, "console/payments.html", context)


@operator_console
@require_GET
def credit(request: HttpRequest, console: Console) -> HttpResponse:
    listing = queries.credit_by_client(cursor=request.GET.get("cursor"))
    asked = notice_queries.waiting_by_client(
        NoticeKind.CREDIT_REQUEST, [r.client_id for r in listing.rows]
    )
    return render(
        request,
        "console/credit.html",
        {"console": console, "nav": "payments", "listing": listing, "asked": asked},
    )


# ---------------------------------------------------------------------------------------
# One payment


def _detail(payment_id: int) -> queries.PaymentDetail:
    detail = queries.payment_detail(payment_id)
    if detail is None:
        raise Http404("no such payment")
    return detail


def _correct_form(
    detail: queries.PaymentDetail, console: Console, **kw: Any
) -> CorrectAllocationForm:
    return CorrectAllocationForm(
        currency=detail.currency,
        allocations=detail.allocations,
        invoices=detail.open_invoices,
        locale=console.locale,
        **kw,
    )


def _refund_form(detail: queries.PaymentDetail, console: Console, **kw: Any) -> RefundForm:
    return RefundForm(
        currency=detail.currency,
        unapplied_minor=detail.unapplied_minor,
        locale=console.locale,
        **kw,
    )


def _render_payment(
    request: HttpRequest, console: Console, detail: queries.PaymentDetail, **forms: KeyedForm
) -> HttpResponse:
    fresh = {
        "correct_form": _correct_form(detail, console, initial={"key": new_key()}),
        "refund_form": _refund_form(
            detail,
            console,
            initial={
                "key": new_key(),
                "refunded_on": console.today,
                "method": detail.method,
                "amount": to_decimal(detail.unapplied_minor, detail.currency)
                if detail.unapplied_minor
                else None,
            },
        ),
    }
    context = {
        "console": console,
        "nav": "payments",
        "payment": detail,
        "invoice_href": invoice_href,
        **fresh,
        **forms,
    }
    return render(request, "console/payment.html", context)


@operator_console
@require_GET
def payment(request: HttpRequest, console: Console, payment_id: int) -> HttpResponse:
    return _render_payment(request, console, _detail(payment_id))


def _refused_on_payment(form: KeyedForm, error: DomainError) -> None:
    if error.code in ("invalid_allocation", "invalid_unallocation", "invalid_refund"):
        form.add_error(
            None,
            "The payment changed since this page was drawn (another operator?): "
            + " ".join(p.message for p in error.problems)
            + ". Nothing was changed; check the figures below.",
        )
    else:
        add_domain_errors(form, error)


@operator_console
@require_POST
def correct(request: HttpRequest, console: Console, payment_id: int) -> HttpResponse:
    detail = _detail(payment_id)
    return submit(
        request,
        form=_correct_form(detail, console, data=request.POST),
        act=lambda data: services.correct_allocation(
            actor=console.user,
            payment_id=payment_id,
            releases=data["releases"],
            allocations=data["allocations"],
            key=data["key"],
        ),
        done=lambda: redirect(reverse("console:payment", args=[payment_id]) + "#allocations"),
        again=lambda f: _render_payment(request, console, _detail(payment_id), correct_form=f),
        refused=_refused_on_payment,
        message="Allocation corrected.",
    )


@operator_console
@require_POST
def refund(request: HttpRequest, console: Console, payment_id: int) -> HttpResponse:
    detail = _detail(payment_id)
    return submit(
        request,
        form=_refund_form(detail, console, data=request.POST),
        act=lambda data: services.refund_payment_credit(
            actor=console.user,
            payment_id=payment_id,
            amount_minor=data["amount_minor"],
            refunded_on=data["refunded_on"],
            method=data["method"],
            reference=data["reference"],
            key=data["key"],
        ),
        done=lambda: redirect(reverse("console:payment", args=[payment_id]) + "#refunds"),
        again=lambda f: _render_payment(request, console, _detail(payment_id), refund_form=f),
        refused=_refused_on_payment,
        message=f"Refund recorded. {detail.client_name} sees it beside the payment.",
    )


# ---------------------------------------------------------------------------------------
# Recording a payment


def _record_form(
    console: Console, client_id: int | None, clients: list[queries.ClientChoice], **kw: Any
) -> RecordPaymentForm:
    chosen = next((c for c in clients if c.id == client_id), None)
    return RecordPaymentForm(
        clients=[(c.id, f"{c.name} ({c.code}, {c.currency})") for c in clients],
        client_currency=chosen.currency if chosen else None,
        invoices=queries.open_invoices(chosen.id) if chosen else [],
        waiting_advice=notice_queries.waiting_advice(chosen.id) if chosen else [],
        locale=console.locale,
        **kw,
    )


def _suggested(
    console: Console, clients: list[queries.ClientChoice], post: Any
) -> RecordPaymentForm:
    """The form as posted, its allocation replaced by the suggestion for the client,
    amount and reference it names (unbound: nothing is checked yet)."""
    client_id = _int(post.get("client"))
    chosen = next((c for c in clients if c.id == client_id), None)
    initial = {name: post.get(name, "") for name in RecordPaymentForm.base_fields}
    initial["answers"] = post.getlist("answers")
    initial["key"] = post.get("key") or new_key()
    if chosen is None:
        return _record_form(console, None, clients, initial=initial)
    if not initial["currency"] or _int(post.get("suggested_for")) != chosen.id:
        initial["currency"] = chosen.currency
    probe = RecordPaymentForm(
        data={"amount": post.get("amount", "")},
        clients=[],
        client_currency=chosen.currency,
        invoices=[],
    )
    probe.is_valid()
    amount = probe.cleaned_data.get("amount_minor") if not probe.errors.get("amount") else None
    for line in queries.suggest_allocation(chosen.id, amount or 0, post.get("reference", "")):
        initial[f"alloc_{line.invoice.id}"] = to_decimal(line.amount_minor, chosen.currency)
    return _record_form(console, chosen.id, clients, initial=initial)


def _render_record(
    request: HttpRequest, console: Console, form: RecordPaymentForm, *, partial: bool = False
) -> HttpResponse:
    context = {
        "advice": _waiting_advice(_int(str(form["advice"].value() or ""))),
        "console": console,
        "nav": "payments",
        "form": form,
        "named": set(
            queries.numbers_in(str(form["reference"].value() or ""))
        ),  # invoice numbers the reference names
        "invoice_href": invoice_href,
    }
    template = "console/_payment_allocation.html" if partial else "console/record_payment.html"
    return render(request, template, context)


@operator_console
@require_http_methods(["GET", "POST"])
def record_payment(request: HttpRequest, console: Console) -> HttpResponse:
    clients = queries.client_choices()
    if request.method == "GET":
        client_id = _int(request.GET.get("client"))
        chosen = next((c for c in clients if c.id == client_id), None)
        initial: dict[str, Any] = {
            "key": new_key(),
            "received_on": console.today,
            "client": chosen.id if chosen else "",
            "currency": chosen.currency if chosen else "",
        }
        advice = _waiting_advice(_int(request.GET.get("advice")))
        if advice is not None:
            chosen = next((c for c in clients if c.id == advice.client_id), None)
            initial |= _from_advice(advice)
        if chosen:
            for inv in queries.open_invoices(chosen.id):
                initial.setdefault(f"alloc_{inv.id}", to_decimal(0, chosen.currency))
        form = _record_form(console, chosen.id if chosen else None, clients, initial=initial)
        return _render_record(request, console, form)
    if "suggest" in request.POST:
        # "Suggest allocation" (or htmx, on a change of client, amount or reference).
        return _render_record(
            request,
            console,
            _suggested(console, clients, request.POST),
            partial=bool(getattr(request, "htmx", False)),
        )
    form = _record_form(console, _int(request.POST.get("client")), clients, data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = services.record_received_payment(
                actor=console.user,
                client_id=data["client"],
                amount_minor=data["amount_minor"],
                currency=data["currency"],
                received_on=data["received_on"],
                method=data["method"],
                reference=data["reference"],
                payer=data["payer"],
                allocations=data["allocations"],
                key=data["key"],
                advice_ids=data["advice_ids"],
            )
        except AlreadySubmitted:
            found = _payment_of_form(data)
            if found is not None:
                return redirect("console:payment", found)
            form.add_error(None, "This form was sent already. Find the payment in the list.")
        except DomainError as e:
            _refused_record(form, e, data)
        else:
            if result.replayed:
                messages.info(request, "This payment was recorded already; here it is.")
            elif data["advice_ids"]:
                answered = len(data["advice_ids"])
                messages.success(
                    request,
                    "Payment recorded; the client's remittance advice is answered."
                    if answered == 1
                    else f"Payment recorded; {answered} of the client's remittance advice "
                    "are answered.",
                )
            else:
                messages.success(request, "Payment recorded.")
            return redirect("console:payment", result.payment.pk)
    response = _render_record(request, console, form)
    response.status_code = 422
    return response


def _waiting_advice(notice_id: int | None) -> notice_queries.NoticeRow | None:
    """A client's remittance advice still waiting, to start a payment from."""
    detail = notice_queries.notice_detail(notice_id) if notice_id else None
    if detail is None or detail.row.kind != "remittance" or detail.row.status != "waiting":
        return None
    return detail.row


def _from_advice(advice: notice_queries.NoticeRow) -> dict[str, Any]:
    """The form as the client's remittance advice fills it: what, when, how, and the
    invoices it names, each paid what it owes, in order, as far as the amount goes."""
    initial: dict[str, Any] = {
        "advice": advice.id,
        "answers": [str(advice.id)],
        "client": advice.client_id,
        "amount": to_decimal(advice.amount_minor, advice.currency),
        "currency": advice.currency,
        "received_on": advice.paid_on,
        "method": advice.method,
        "reference": advice.reference,
        "payer": advice.client_name,
    }
    left = advice.amount_minor
    for inv in advice.invoices:
        take = min(left, inv.balance_minor) if inv.status == "open" else 0
        initial[f"alloc_{inv.id}"] = to_decimal(take, advice.currency)
        left -= take
    return initial


def _payment_of_form(data: dict[str, Any]) -> int | None:
    """The payment a form already sent recorded (its key names it)."""
    key = services.payment_key(
        client_id=data["client"],
        amount_minor=data["amount_minor"],
        currency=data["currency"],
        received_on=data["received_on"],
        reference=data["reference"],
        form_key=data["key"],
    )
    return (
        Payment.objects.filter(client_id=data["client"], idempotency_key=key)
        .values_list("pk", flat=True)
        .first()
    )


def _refused_record(form: RecordPaymentForm, error: DomainError, data: dict[str, Any]) -> None:
    if error.code == "idempotency_key_reused":
        found = _payment_of_form(data)
        where = f" (payment #{found})" if found else ""
        form.add_error(
            "reference",
            f"A payment from this client of this amount, received that day with this reference, "
            f"is recorded already{where}, with other details. If this is another payment, add "
            "to its reference to tell the two apart.",
        )
    elif error.code == "notice_answered":
        form.add_error(
            "answers",
            "Remittance advice ticked here was answered meanwhile (by another operator?). "
            "Nothing was recorded: reload the form to see what still waits.",
        )
    elif error.code == "invalid_allocation":
        form.add_error(
            None,
            "An invoice changed since the suggestion was made: "
            + " ".join(p.message for p in error.problems)
            + ". Suggest the allocation again.",
        )
    else:
        add_domain_errors(form, error)
