"""Billing runs: start a month's run, and watch it to its drafts."""

from datetime import date

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_http_methods

from tally.errors import DomainError
from tally.invoicing.models import BillingRun

from ..access import Console, operator_console
from ..forms.billing import BillingRunForm
from ..forms.common import KeyedForm
from ..queries import billing as queries
from ..services import billing as services
from ..services.submissions import new_key
from .common import add_domain_errors, submit


def _form(console: Console, data: object = None) -> BillingRunForm:
    choices = [(c.id, c.name) for c in queries.client_choices()]
    if data is not None:
        return BillingRunForm(data, client_choices=choices)
    initial = {"key": new_key(), "month": f"{queries.default_month(console.today):%Y-%m}"}
    return BillingRunForm(initial=initial, client_choices=choices)


def _render_runs(request: HttpRequest, console: Console, form: BillingRunForm) -> HttpResponse:
    context = {
        "console": console,
        "nav": "billing",
        "form": form,
        "clients": queries.client_choices(),
        "chosen": set(form["clients"].value() or []),
        "runs": queries.billing_runs(cursor=request.GET.get("cursor")),
        "latest_month": f"{console.today:%Y-%m}",
    }
    return render(request, "console/billing_runs.html", context)


def _refused(form: KeyedForm, error: DomainError) -> None:
    if error.code == "not_found":
        form.add_error("clients", "A client chosen no longer exists; reload the page.")
    else:
        add_domain_errors(form, error)


@operator_console
@require_http_methods(["GET", "POST"])
def billing_runs(request: HttpRequest, console: Console) -> HttpResponse:
    """The runs, newest first, and the form that starts one (posted here)."""
    if request.method != "POST":
        return _render_runs(request, console, _form(console))
    form = _form(console, request.POST)
    started: list[BillingRun] = []

    def done() -> HttpResponse:
        run_id = started[0].pk if started else queries.latest_run_of(form.cleaned_data["month"])
        if run_id is None:
            return redirect("console:billing_runs")
        return redirect("console:billing_run", run_id)

    def act(data: dict) -> None:
        started.append(
            services.start_run(
                actor=console.user,
                month=data["month"],
                client_ids=data["client_ids"],
                today=console.today,
                key=data["key"],
            )
        )

    month: date | None = None
    if form.is_valid():
        month = form.cleaned_data["month"]
    return submit(
        request,
        form=form,
        act=act,
        done=done,
        again=lambda f: _render_runs(request, console, f),  # type: ignore[arg-type]
        refused=_refused,
        message=f"Billing run for {month:%B %Y} started." if month else "Billing run started.",
    )


# htmx's status for "swap this, then stop polling".
STOP_POLLING = 286


def _draft_links() -> bool:
    """Whether the console has a draft's page to link to (the drafts' part of the console)."""
    try:
        reverse("console:draft", args=[1])
    except NoReverseMatch:
        return False
    return True


@operator_console
@require_GET
def billing_run(request: HttpRequest, console: Console, run_id: int) -> HttpResponse:
    """A run's progress, polled by htmx while it runs; its result once done."""
    page = queries.billing_run(run_id)
    if page is None:
        raise Http404("no such billing run")
    context = {"console": console, "nav": "billing", "run": page, "draft_links": _draft_links()}
    if request.htmx and not page.finished:  # type: ignore[attr-defined]
        return render(request, "console/_billing_run_progress.html", context)
    if request.htmx:  # type: ignore[attr-defined]
        # Finished: the progress and the result in one answer; 286 tells htmx to stop polling.
        return render(request, "console/_billing_run_swap.html", context, status=STOP_POLLING)
    return render(request, "console/billing_run.html", context)
