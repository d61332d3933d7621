"""Billing runs as the console shows them: the list of past runs, one run's progress and
result, and the clients to choose from."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.utils.text import capfirst

from tally.clients.models import Client
from tally.invoicing.models import BillingRun, BillingRunClient
from tally.invoicing.naming import draft_name, format_invoice_number
from tally.pagination import DateTimeKey, IntKey, KeysetPaginator

RUNS_LIMIT = 20


@dataclass(frozen=True)
class ClientChoice:
    id: int
    name: str
    code: str


@dataclass(frozen=True)
class RunRow:
    id: int
    period_start: date
    status: str
    all_clients: bool
    started_by: str
    clients_done: int
    clients_total: int
    events_rated: int
    drafts: int
    created_at: datetime
    finished_at: datetime | None

    @property
    def month(self) -> str:
        return f"{self.period_start:%B %Y}"


@dataclass(frozen=True)
class RunList:
    rows: list[RunRow]
    next_cursor: str | None
    prev_cursor: str | None


@dataclass(frozen=True)
class UnratedRow:
    kind: str
    events: int
    quantity: int


@dataclass(frozen=True)
class RunResult:
    """One client's outcome; `invoice_id` is None once its draft has been deleted."""

    client_name: str
    client_code: str
    done: bool
    invoice_id: int | None
    draft_ref: int | None
    invoice_number: str | None  # once the draft has been issued
    invoice_status: str | None
    currency: str
    total_minor: int | None
    events: int
    unrated: list[UnratedRow]
    refused: str

    @property
    def label(self) -> str:
        """The draft as the console names it: its number once issued, else its id (none
        when the client had nothing to bill)."""
        if self.invoice_number or self.draft_ref is None:
            return self.invoice_number or ""
        return capfirst(draft_name(self.draft_ref))


@dataclass(frozen=True)
class RunPage:
    id: int
    period_start: date
    period_end: date
    status: str
    all_clients: bool
    started_by: str
    clients_done: int
    clients_total: int
    events_rated: int
    drafts: int
    error: str
    created_at: datetime
    started_at: datetime | None
    progress_at: datetime | None
    finished_at: datetime | None
    results: list[RunResult]  # every client done, once the run has finished

    @property
    def month(self) -> str:
        return f"{self.period_start:%B %Y}"

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        return 100 * self.clients_done // self.clients_total if self.clients_total else 100

    @property
    def unrated_total(self) -> int:
        return sum(u.events for r in self.results for u in r.unrated)


def client_choices() -> list[ClientChoice]:
    """Every client, by name: what a run may bill."""
    return [
        ClientChoice(*row)
        for row in Client.objects.order_by("name", "id").values_list("id", "name", "code")
    ]


RUN_PAGES = KeysetPaginator(
    "console.billing_runs", [DateTimeKey("created_at"), IntKey("id")], descending=True
)
_RUN_COLUMNS = (
    "id",
    "period_start",
    "status",
    "all_clients",
    "started_by_label",
    "clients_done",
    "clients_total",
    "events_rated",
    "drafts",
    "created_at",
    "finished_at",
)


def billing_runs(cursor: str | None = None, limit: int = RUNS_LIMIT) -> RunList:
    """Past and current runs, newest first."""
    page = RUN_PAGES.paginate(
        BillingRun.objects.all(), RUN_PAGES.decode(cursor), limit, _RUN_COLUMNS
    )
    return RunList(
        rows=[_run_row(row) for row in page.results],
        next_cursor=page.next,
        prev_cursor=page.prev,
    )


def _run_row(row: dict[str, Any]) -> RunRow:
    return RunRow(
        id=row["id"],
        period_start=row["period_start"],
        status=row["status"],
        all_clients=row["all_clients"],
        started_by=row["started_by_label"],
        clients_done=row["clients_done"],
        clients_total=row["clients_total"],
        events_rated=row["events_rated"],
        drafts=row["drafts"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
    )


def billing_run(run_id: int) -> RunPage | None:
    """One run: its progress and, once it has finished, each client's draft."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is None:
        return None
    results = _results(run_id) if not run.is_active else []
    return RunPage(
        id=run.pk,
        period_start=run.period_start,
        period_end=run.period_end,
        status=run.status,
        all_clients=run.all_clients,
        started_by=run.started_by_label,
        clients_done=run.clients_done,
        clients_total=run.clients_total,
        events_rated=run.events_rated,
        drafts=run.drafts,
        error=run.error,
        created_at=run.created_at,
        started_at=run.started_at,
        progress_at=run.progress_at,
        finished_at=run.finished_at,
        results=results,
    )


def _results(run_id: int) -> list[RunResult]:
    return [
        RunResult(
            client_name=row["client__name"],
            client_code=row["client__code"],
            done=row["done"],
            invoice_id=row["invoice_id"],
            draft_ref=row["invoice_ref"],
            invoice_number=format_invoice_number(row["invoice__number"])
            if row["invoice__number"]
            else None,
            invoice_status=row["invoice__status"],
            currency=row["currency"],
            total_minor=row["total_minor"],
            events=row["events"],
            unrated=[UnratedRow(**u) for u in row["unrated"]],
            refused=row["refused"],
        )
        for row in BillingRunClient.objects.filter(run_id=run_id, done=True)
        .order_by("client__name", "client_id")
        .values(
            "client__name",
            "client__code",
            "done",
            "invoice_id",
            "invoice_ref",
            "invoice__number",
            "invoice__status",
            "currency",
            "total_minor",
            "events",
            "unrated",
            "refused",
        )
    ]


def default_month(today: date) -> date:
    """The last complete month."""
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def latest_run_of(month: date) -> int | None:
    """The newest run of a month, if any: where a resent form finds the run it started."""
    return (
        BillingRun.objects.filter(period_start=month.replace(day=1))
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
