"""Test data built through the same services the product uses."""

from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

from tally.accounts.models import Role, User
from tally.actions.invoices import issue_invoice, void_invoice
from tally.actions.payments import record_payment
from tally.audit.actors import Actor, SystemActor
from tally.clients.models import Client
from tally.clients.services import create_client
from tally.invoicing.models import BilledRange, Invoice, InvoiceLine, InvoiceStatus, LineKind
from tally.invoicing.services import GenerationResult, generate_draft_invoice
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tally.payments.services import PaymentResult
from tally.rating.services import create_rate_card

_seq = count(1)

DEFAULT_PRICES = {"pick": "0.3500", "label": "0.0450", "stop": "12.5000", "storage_day": "0.8125"}


def make_client(
    code: str | None = None,
    *,
    currency: str = "USD",
    terms: int = 30,
    time_zone: str = "UTC",
    tax_rate_bp: int | None = None,
    prices: dict[str, str] | None = None,
    rates_from: date = date(2026, 1, 1),
    locale: str = "en_US",
) -> Client:
    n = next(_seq)
    code = code or f"client-{n}"
    client = create_client(
        actor=SystemActor.TESTS,
        name=f"{code.title()} Inc.",
        code=code,
        currency=currency,
        payment_terms_days=terms,
        time_zone=time_zone,
        tax_rate_bp=tax_rate_bp,
        address=f"{n} Harbor Way\nPort City",
        billing_contacts=[("Accounts Payable", f"ap@{code}.example")],
        locale=locale,
    )
    create_rate_card(
        actor=SystemActor.TESTS,
        client=client,
        effective_from=rates_from,
        prices=prices if prices is not None else DEFAULT_PRICES,
    )
    return client


def make_user(
    role: str = Role.OPERATOR,
    client: Client | None = None,
    email: str | None = None,
    password: str = "correct-horse-battery",
) -> User:
    return User.objects.create_user(
        email or f"user{next(_seq)}@tally.example", password, role=role, client=client
    )


def event_rows(
    kind: str,
    n: int,
    *,
    day: date = date(2026, 10, 5),
    quantity: int = 1,
    prefix: str | None = None,
    **extra: Any,
) -> list[dict[str, Any]]:
    prefix = prefix or f"{kind}-{next(_seq)}"
    start = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [
        {
            "kind": kind,
            "occurred_at": (start + timedelta(seconds=i)).isoformat(),
            "quantity": quantity,
            "reference": f"REF-{prefix}-{i}",
            "external_id": f"{prefix}-{i}",
            **extra,
        }
        for i in range(n)
    ]


def add_events(client: Client, kind: str, n: int, **kw: Any) -> None:
    ingest_events(actor=SystemActor.TESTS, client=client, rows=event_rows(kind, n, **kw))


OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
NOV_1 = date(2026, 11, 1)


def generate(
    client: Client, period: tuple[date, date] = OCTOBER, *, actor: Actor = SystemActor.TESTS
) -> GenerationResult:
    """Generate the draft for `period` from the events already ingested, as an operator would."""
    return generate_draft_invoice(
        actor=actor, client=client, period_start=period[0], period_end=period[1]
    )


def draft_invoice(
    client: Client,
    *,
    picks: int = 10,
    labels: int = 0,
    period: tuple[date, date] = OCTOBER,
    day: date | None = None,
    pick_prefix: str | None = None,
    actor: Actor = SystemActor.TESTS,
) -> Invoice:
    """A draft billing `picks` and `labels` new events of `period` (and any unbilled ones
    already there: with picks=0 and labels=0 it bills only what the test ingested).

    The events fall on `day`, by default the period's 3rd day (picks) and 4th (labels);
    `pick_prefix` gives the picks' references a recognisable stem (REF-<prefix>-<n>).
    """
    if picks:
        on = day or period[0] + timedelta(days=2)
        add_events(client, "pick", picks, day=on, prefix=pick_prefix)
    if labels:
        add_events(client, "label", labels, day=day or period[0] + timedelta(days=3))
    return generate(client, period, actor=actor).invoice


def issued_invoice(
    client: Client,
    *,
    picks: int = 10,
    labels: int = 0,
    period: tuple[date, date] = OCTOBER,
    issue_date: date = NOV_1,
    day: date | None = None,
    pick_prefix: str | None = None,
    actor: Actor = SystemActor.TESTS,
) -> Invoice:
    """`draft_invoice(...)`, issued on `issue_date` (numbered, reminders scheduled, any
    unapplied credit applied)."""
    draft = draft_invoice(
        client,
        picks=picks,
        labels=labels,
        period=period,
        day=day,
        pick_prefix=pick_prefix,
        actor=actor,
    )
    return issue_invoice(actor=actor, client=client, invoice_id=draft.pk, issue_date=issue_date)


def voided_invoice(
    client: Client,
    *,
    reason: str = "Billed twice",
    issued: bool = True,
    actor: Actor = SystemActor.TESTS,
    **invoice: Any,
) -> Invoice:
    """An invoice voided for `reason`: issued first (`issued_invoice(**invoice)`), or
    voided while still a draft when `issued` is False. Its events are free to bill again."""
    build = issued_invoice if issued else draft_invoice
    made = build(client, actor=actor, **invoice)
    return void_invoice(actor=actor, client=client, invoice_id=made.pk, reason=reason)


def pay(
    client: Client,
    amount_minor: int,
    *,
    invoice: Invoice | None = None,
    allocations: list[tuple[int, int]] | None = None,
    key: str | None = None,
    received_on: date = date(2026, 11, 10),
    method: str = "ach",
    reference: str = "",
    payer: str = "",
    currency: str | None = None,
    auto_allocate: bool = True,
    actor: Actor = SystemActor.TESTS,
) -> PaymentResult:
    """Record a payment from `client`: all of it to `invoice` when one is named, else as
    `allocations` says, else oldest invoice first (or left as credit: `auto_allocate=False`).

    `key` is the idempotency key (a fresh one by default); `currency` the client's unless
    a test wants another.
    """
    if invoice is not None:
        assert allocations is None, "name an invoice or allocations, not both"
        allocations = [(invoice.pk, amount_minor)]
    return record_payment(
        actor=actor,
        client=client,
        amount_minor=amount_minor,
        currency=currency or client.currency,
        received_on=received_on,
        method=method,
        idempotency_key=key or f"pay-{next(_seq)}",
        reference=reference,
        payer=payer,
        allocations=allocations,
        auto_allocate=auto_allocate,
    )


def assert_lines_total_their_events() -> None:
    """Every event is on at most one line of a live invoice, and every live usage line's
    quantity and event count are those of the events its ranges hold."""
    quantity = dict(Event.objects.values_list("pk", "quantity"))
    sums: dict[int, tuple[int, int]] = {}
    for event_id, lines in billing_lines().items():
        assert len(lines) <= 1, f"event {event_id} is billed by lines {lines}"
        for line in lines:
            q, n = sums.get(line, (0, 0))
            sums[line] = (q + quantity[event_id], n + 1)
    for line in InvoiceLine.objects.filter(line_type=LineKind.USAGE).exclude(
        invoice__status=InvoiceStatus.VOID
    ):
        assert sums.get(line.pk) == (line.quantity, line.event_count), line.pk


def billing_lines() -> dict[int, list[int]]:
    """Event id → the lines of live invoices whose ranges hold it.

    Worked out in Python from the rows, independently of the SQL that totals the lines,
    so that tests can check one against the other.
    """
    ranges = list(
        BilledRange.objects.exclude(invoice__status=InvoiceStatus.VOID).values_list(
            "client_id", "kind", "occurred_from", "occurred_to", "after_id", "upto_id", "line_id"
        )
    )
    return {
        event_id: [
            r[6]
            for r in ranges
            if (r[0], r[1]) == (client_id, kind) and r[2] <= at < r[3] and r[4] < event_id <= r[5]
        ]
        for event_id, client_id, kind, at in Event.objects.values_list(
            "id", "client_id", "kind", "occurred_at"
        )
    }
