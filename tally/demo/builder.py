"""A believable 3PL, built through the same services the product uses.

Northwind Logistics bills seven clients for six months of picks, labels, delivery stops
and pallet storage. The story is replayed day by day up to today, so reminders go out
when they were due, payments arrive by several methods, one invoice is disputed and
still open, another dispute ended in a credit note, and one invoice was voided and
re-billed. Two clients have told the 3PL about money in the portal: one asks that its
unapplied credit pay two invoices, another reports a payment not yet at the bank. Dates are relative to today, so the demo is current whenever it is built.
"""

import calendar
import itertools
import logging
import random
import smtplib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from tally.accounts.models import Role, User
from tally.actions.disputes import resolve_dispute
from tally.actions.invoices import issue_invoice, void_invoice
from tally.actions.payments import record_payment
from tally.audit.actors import SystemActor
from tally.clients.models import Client
from tally.clients.services import create_client
from tally.disputes.services import open_dispute, post_dispute_message
from tally.internal_notes.services import add_internal_note
from tally.invoicing.models import Invoice
from tally.invoicing.services import add_adjustment, generate_draft_invoice
from tally.operations.services import ingest_events
from tally.payments.models import Payment
from tally.payments.services import ask_to_apply_credit, available_credit, report_payment
from tally.rating.services import create_rate_card
from tally.reminders.services import send_due_reminders

DEMO_PASSWORD = "tally-demo-2026"
OPERATOR_EMAIL = "ops@northwind.example"
OWNER_EMAIL = "owner@northwind.example"


@dataclass(frozen=True)
class ClientSpec:
    code: str
    name: str
    currency: str
    terms: int
    time_zone: str
    tax_rate_bp: int | None
    address: str
    prices: dict[str, str]
    orders_per_day: int
    pallets: int
    stops_per_day: int
    payer_habit: str  # prompt, late, partial, slow
    methods: tuple[str, ...]


CLIENTS = [
    ClientSpec(
        "acme-outdoor",
        "Acme Outdoor Gear",
        "USD",
        30,
        "America/Denver",
        None,
        "1400 Wynkoop St\nDenver, CO 80202\nUnited States",
        {"pick": "0.3500", "label": "0.0450", "stop": "14.5000", "storage_day": "0.8500"},
        60,
        140,
        3,
        "prompt",
        ("ach", "wire"),
    ),
    ClientSpec(
        "brightleaf",
        "Brightleaf Cosmetics",
        "USD",
        15,
        "America/New_York",
        887,
        "88 Greenwich Ave\nNew York, NY 10011\nUnited States",
        {"pick": "0.4200", "label": "0.0500", "storage_day": "0.9500"},
        45,
        60,
        0,
        "late",
        ("card", "ach"),
    ),
    ClientSpec(
        "nordkap",
        "Nordkap Sports GmbH",
        "EUR",
        30,
        "Europe/Berlin",
        1900,
        "Speicherstadt 12\n20457 Hamburg\nGermany",
        {"pick": "0.3100", "label": "0.0400", "stop": "11.0000", "storage_day": "0.7200"},
        35,
        90,
        2,
        "late",  # so that the EUR client has an invoice to pay, and sees the SEPA details
        ("sepa",),
    ),
    ClientSpec(
        "maple-finch",
        "Maple & Finch Home",
        "CAD",
        45,
        "America/Toronto",
        1300,
        "220 King St W\nToronto, ON M5H 1K4\nCanada",
        {"pick": "0.4500", "label": "0.0550", "stop": "16.0000", "storage_day": "1.1000"},
        25,
        110,
        1,
        "partial",
        ("wire", "check"),
    ),
    ClientSpec(
        "kumo-tea",
        "Kumo Tea Co.",
        "JPY",
        30,
        "Asia/Tokyo",
        None,
        "2-11-3 Meguro\nTokyo 153-0063\nJapan",
        {"pick": "48", "label": "6.5", "storage_day": "120"},
        30,
        40,
        0,
        "prompt",
        ("wire",),
    ),
    ClientSpec(
        "harbor-pet",
        "Harbor Pet Supply",
        "USD",
        30,
        "America/Los_Angeles",
        None,
        "3100 E 7th St\nLong Beach, CA 90804\nUnited States",
        {"pick": "0.3800", "label": "0.0480", "stop": "13.2500", "storage_day": "0.8800"},
        40,
        75,
        4,
        "slow",
        ("check", "ach"),
    ),
    ClientSpec(
        "luna-baby",
        "Luna Baby Co.",
        "GBP",
        14,
        "Europe/London",
        2000,
        "14 Commercial St\nLondon E1 6LP\nUnited Kingdom",
        {"pick": "0.2900", "label": "0.0380", "storage_day": "0.6900"},
        20,
        30,
        0,
        "prompt",
        ("ach", "card"),
    ),
]

STREETS = ["Oak St", "Maple Ave", "Harbor Rd", "Industrial Pkwy", "Main St", "Cedar Ln", "Pier 4"]


def month_start(d: date, back: int) -> date:
    y, m = d.year, d.month - back
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def month_end(start: date) -> date:
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def _events_for_day(spec: ClientSpec, day: date, rng: random.Random, seq: list[int]) -> list[dict]:
    rows: list[dict] = []
    weekday = day.weekday() < 5
    orders = int(spec.orders_per_day * (1.0 if weekday else 0.3) * rng.uniform(0.6, 1.4))

    def ts(hour: int, minute: int) -> str:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat()

    for _ in range(orders):
        seq[0] += 1
        order = f"SO-{day:%y%m}-{seq[0]:05d}"
        hour, minute = rng.randint(13, 23), rng.randint(0, 59)
        rows.append(
            {
                "kind": "pick",
                "occurred_at": ts(hour, minute),
                "quantity": rng.choice([1, 1, 2, 3, 4, 6]),
                "reference": order,
                "external_id": f"wms-pick-{seq[0]}",
                "details": {
                    "order": order,
                    "sku_lines": rng.randint(1, 4),
                    "picker": f"P{rng.randint(1, 12):02d}",
                },
            }
        )
        tracking = f"1Z{rng.randint(10**15, 10**16 - 1):X}"[:18]
        rows.append(
            {
                "kind": "label",
                "occurred_at": ts(hour, min(minute + 5, 59)),
                "quantity": 1,
                "reference": tracking,
                "external_id": f"wms-label-{seq[0]}",
                "details": {
                    "order": order,
                    "carrier": rng.choice(["UPS", "FedEx", "USPS", "DHL"]),
                    "service": rng.choice(["Ground", "2Day", "Express"]),
                },
            }
        )
    for n in range(spec.stops_per_day if weekday else 0):
        seq[0] += 1
        address = f"{rng.randint(10, 9999)} {rng.choice(STREETS)}"
        rows.append(
            {
                "kind": "stop",
                "occurred_at": ts(rng.randint(14, 22), rng.randint(0, 59)),
                "quantity": 1,
                "reference": address,
                "external_id": f"tms-stop-{seq[0]}",
                "details": {
                    "route": f"R-{day:%m%d}-{n + 1}",
                    "driver": rng.choice(["Ana", "Ben", "Chi", "Dev"]),
                    "signed_by": rng.choice(["front desk", "dock", "J. Smith"]),
                },
            }
        )
    for aisle in range(1, 5):
        pallets = max(1, int(spec.pallets / 4 * rng.uniform(0.8, 1.2)))
        rows.append(
            {
                "kind": "storage_day",
                "occurred_at": ts(23, 59),
                "quantity": pallets,
                "reference": f"Aisle {aisle:02d} / racks A-H",
                "external_id": f"wms-storage-{day}-{aisle}",
                "details": {"location": f"A{aisle:02d}", "pallets": pallets},
            }
        )
    return rows


def _create_people(clients: dict[str, Client]) -> list[tuple[str, str, str]]:
    logins = []
    operator = User.objects.create_user(
        OPERATOR_EMAIL, DEMO_PASSWORD, role=Role.OPERATOR, full_name="Olivia Ortega", is_staff=True
    )
    User.objects.create_user(
        OWNER_EMAIL,
        DEMO_PASSWORD,
        role=Role.PLATFORM_OWNER,
        full_name="Pat Owens",
        is_staff=True,
        is_superuser=True,
    )
    logins += [
        ("operator", OPERATOR_EMAIL, "Northwind Logistics billing team"),
        ("platform owner", OWNER_EMAIL, "Northwind Logistics administrator"),
    ]
    for code, client in clients.items():
        email = f"ap@{code}.example"
        User.objects.create_user(
            email,
            DEMO_PASSWORD,
            role=Role.CLIENT_USER,
            client=client,
            full_name=f"{client.name} accounts payable",
            # Keeps who receives the invoices (Account → billing contacts).
            is_client_admin=True,
        )
        logins.append(("client admin", email, client.name))
    del operator
    return logins


def build(today: date | None = None, months: int = 6, seed: int = 7) -> list[tuple[str, str, str]]:
    """Build the demo into an empty database; returns the logins (role, email, who)."""
    today = today or timezone.now().date()
    rng = random.Random(seed)
    first_month = month_start(today, months)
    with transaction.atomic():
        clients = {}
        for spec in CLIENTS:
            clients[spec.code] = create_client(
                actor=SystemActor.DEMO,
                name=spec.name,
                code=spec.code,
                currency=spec.currency,
                payment_terms_days=spec.terms,
                time_zone=spec.time_zone,
                tax_rate_bp=spec.tax_rate_bp,
                address=spec.address,
                billing_contacts=[
                    ("Accounts Payable", f"ap@{spec.code}.example"),
                    ("Controller", f"controller@{spec.code}.example"),
                ],
            )
            create_rate_card(
                actor=SystemActor.DEMO,
                client=clients[spec.code],
                name="2026 rates",
                effective_from=first_month - timedelta(days=120),
                prices=spec.prices,
            )
        # A price rise three months in for the largest client: two lines per kind that month.
        raise_from = month_start(today, months - 3) + timedelta(days=14)
        create_rate_card(
            actor=SystemActor.DEMO,
            client=clients["acme-outdoor"],
            name="Rates after peak-season review",
            effective_from=raise_from,
            prices={
                "pick": "0.3700",
                "label": "0.0450",
                "stop": "14.5000",
                "storage_day": "0.8900",
            },
        )
        logins = _create_people(clients)
    operator = User.objects.get(email=OPERATOR_EMAIL)

    # Events, month by month up to yesterday.
    for spec in CLIENTS:
        seq = [0]
        day, rows = first_month, []
        while day < today:
            rows += _events_for_day(spec, day, rng, seq)
            day += timedelta(days=1)
        ingest_events(actor=operator, client=clients[spec.code], rows=rows, source="wms")

    # Replay the billing calendar day by day: issue on the 1st, payments as they arrive,
    # reminders when due.
    payments_due: dict[date, list[tuple[Client, Invoice, ClientSpec, str]]] = {}
    mail = _MailServer(bounce_domain="harbor-pet.example", bounce_from=today - timedelta(days=60))
    voided_once = False
    day = month_start(first_month, -1)
    while day <= today:
        if day.day == 1 and day > first_month:
            period_start = month_start(day, 1)
            for spec in CLIENTS:
                client = clients[spec.code]
                draft = generate_draft_invoice(
                    actor=operator,
                    client=client,
                    period_start=period_start,
                    period_end=month_end(period_start),
                ).invoice
                if day == month_start(today, 0) and spec.code in ("harbor-pet", "luna-baby"):
                    continue  # this month's drafts still being reviewed: never shown to clients
                invoice = issue_invoice(
                    actor=operator, client=client, invoice_id=draft.pk, issue_date=day
                )
                if spec.code == "nordkap" and not voided_once:
                    invoice = _void_and_rebill(operator, client, invoice, day)
                    voided_once = True
                _plan_payment(payments_due, rng, spec, client, invoice, today)
        for client, invoice, spec, kind in payments_due.pop(day, []):
            _pay(operator, client, invoice, spec, kind, day, rng)
        mail.day = day
        # The day's reminder run, stamped on that day (the timeline says when each went).
        with _staged_bounces_unlogged(), clock_at(datetime.combine(day, REMINDER_RUN, UTC)):
            send_due_reminders(today=day, connection_factory=mail.connection)
        day += timedelta(days=1)

    _story_disputes(operator, clients, today, rng)
    _story_draft_with_adjustment(operator, clients["harbor-pet"])
    _story_paid_twice(operator, clients["maple-finch"], today)
    misapplied = _story_misapplied_payment(
        operator, [clients[code] for code in ("harbor-pet", "brightleaf", "maple-finch")], today
    )
    _story_credit_request(clients["maple-finch"], today)
    _story_remittance_advice(
        [
            c
            for code in ("brightleaf", "acme-outdoor", "nordkap")
            if (c := clients[code]) != misapplied
        ],
        today,
    )
    return logins


# When the demo's daily reminder run goes out (UTC): the same calendar day in every demo
# client's time zone, from Los Angeles to Tokyo.
REMINDER_RUN = time(13, 0)


@contextmanager
def clock_at(start: datetime) -> Iterator[None]:
    """Replay a step of the story at the moment it would have happened: meanwhile Django's
    clock (`timezone.now`, which auto_now fields, the audit trail and the services read)
    starts at `start` — never later than the real now — and moves a millisecond a read,
    so that rows written in one step keep their order."""
    real = timezone.now
    begin = min(start, real())
    ticks = itertools.count()
    timezone.now = lambda: begin + timedelta(milliseconds=next(ticks))
    try:
        yield
    finally:
        timezone.now = real


def story_moments(
    invoice: Invoice, today: date, count: int, rng: random.Random, within_days: int = 0
) -> list[datetime]:
    """`count` increasing moments for a conversation about an issued invoice: from the
    day after its issue, in the afternoon, up to the end of `today`'s office hours (or of
    the `within_days` after the issue; or now, if that is earlier), spread out, each a
    little off the hour."""
    after = invoice.issue_date
    assert after is not None, "an issued invoice has its issue date"
    if within_days:
        today = min(today, after + timedelta(days=within_days))
    start = datetime.combine(after + timedelta(days=1), time(14, 0), UTC)
    end = min(timezone.now(), datetime.combine(today, time(17, 0), UTC))
    if end - start < timedelta(hours=count):  # issued a day ago: the hours before now
        start = end - timedelta(hours=count)
    step = (end - start) / count
    return [
        start
        + step * i
        + timedelta(minutes=rng.randint(3, max(4, int(step.total_seconds() // 180))))
        for i in range(count)
    ]


class _MailServer:
    """The demo's mail server: the configured backend, except that the first reminder to
    `bounce_domain` on or after `bounce_from` is refused, as a full mailbox would refuse
    it, so the operator has a failed reminder to look into."""

    def __init__(self, bounce_domain: str, bounce_from: date) -> None:
        self.bounce_domain = bounce_domain
        self.bounce_from = bounce_from
        self.day = bounce_from
        self.bounced = False

    def connection(self) -> BaseEmailBackend:
        return _Bouncing(self, get_connection(fail_silently=False))

    def refuses(self, messages: list[EmailMessage]) -> str | None:
        if self.bounced or self.day < self.bounce_from:
            return None
        for message in messages:
            for address in message.to:
                if address.endswith("@" + self.bounce_domain):
                    self.bounced = True
                    return address
        return None


def staged_bounce(address: str) -> smtplib.SMTPRecipientsRefused:
    """The demo's own refusal, staged so that the operator has a failed reminder: what a
    full mailbox answers, marked as the demo's."""
    error = smtplib.SMTPRecipientsRefused(
        {address: (552, b"5.2.2 <" + address.encode() + b">: mailbox full")}
    )
    error.staged_by_demo = True  # type: ignore[attr-defined]
    return error


class HideStagedBounces(logging.Filter):
    """The reminder sender logs a refusal with its traceback, as it should; the demo's
    staged one printed a traceback in the middle of `make run`, which reads as a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and getattr(record.exc_info[1], "staged_by_demo", False))


@contextmanager
def _staged_bounces_unlogged() -> Iterator[None]:
    sender_log = logging.getLogger("tally.reminders.services")
    hide = HideStagedBounces()
    sender_log.addFilter(hide)
    try:
        yield
    finally:
        sender_log.removeFilter(hide)


class _Bouncing(BaseEmailBackend):
    def __init__(self, server: _MailServer, real: BaseEmailBackend) -> None:
        super().__init__(fail_silently=False)
        self.server, self.real = server, real

    def open(self) -> bool | None:
        return self.real.open()

    def close(self) -> None:
        self.real.close()

    def send_messages(self, email_messages):  # noqa: ANN001, ANN201 - Django's signature
        address = self.server.refuses(list(email_messages))
        if address is not None:
            raise staged_bounce(address)
        return self.real.send_messages(email_messages)


def _story_misapplied_payment(operator, candidates, today) -> Client | None:
    """A client's AP paid its oldest open invoice, naming it in the reference, and the
    bank import put the money on its newest: a misapplied payment for the operator to move.
    The first of `candidates` that owes on two invoices; returns that client."""
    for client in candidates:
        owed = _open_undisputed(client)
        if len(owed) >= 2:
            break
    else:
        return None
    meant, wrong = owed[0], owed[-1]
    amount = min(meant.balance_minor, wrong.balance_minor)
    record_payment(
        actor=operator,
        client=client,
        amount_minor=amount,
        currency=client.currency,
        received_on=today - timedelta(days=2),
        method="ach",
        idempotency_key=f"bank-{client.code}-remittance-{meant.number}",
        reference=f"REMITTANCE {meant.display_number}",
        payer=f"{client.name} AP",
        allocations=[(wrong.pk, amount)],
    )
    return client


def _plan_payment(plan, rng, spec, client, invoice, today):
    if invoice.due_date is None:
        return
    delay = {
        "prompt": rng.randint(-10, -2),
        "late": rng.randint(3, 20),
        "partial": rng.randint(-5, 5),
        "slow": rng.randint(10, 40),
    }[spec.payer_habit]
    when = invoice.due_date + timedelta(days=delay)
    kind = "partial" if spec.payer_habit == "partial" and rng.random() < 0.6 else "full"
    if spec.payer_habit == "slow" and rng.random() < 0.3:
        return  # never paid: overdue
    if when < today:
        plan.setdefault(when, []).append((client, invoice, spec, kind))


def _pay(operator, client, invoice, spec, kind, day, rng):
    invoice.refresh_from_db()
    if invoice.status != "open":
        return
    amount = (
        invoice.balance_minor
        if kind == "full"
        else invoice.balance_minor * rng.choice([40, 50, 75]) // 100
    )
    if spec.code == "maple-finch" and kind == "full":
        amount += 12_345  # overpaid: the credit pays part of the next invoice at its issue
    if amount <= 0:
        return
    method = rng.choice(spec.methods)
    record_payment(
        actor=operator,
        client=client,
        amount_minor=amount,
        currency=client.currency,
        received_on=day,
        method=method,
        idempotency_key=f"bank-{spec.code}-{invoice.number}",
        reference=f"{method.upper()}-{rng.randint(100000, 999999)}",
        payer=f"{client.name} AP",
        allocations=[(invoice.pk, min(amount, invoice.balance_minor))] if kind == "full" else None,
    )


def _story_disputes(operator, clients, today, rng):
    acme = clients["acme-outdoor"]
    ap = User.objects.get(email="ap@acme-outdoor.example")
    # An open dispute on the newest open invoice, about its labels.
    inv = Invoice.objects.filter(client=acme, status="open").order_by("-number").first()
    if inv is not None:
        at = story_moments(inv, today, 4, rng)
        line = inv.lines.filter(kind="label").first()
        amount = min(line.amount_minor, inv.balance_minor) if line else None
        with clock_at(at[0]):
            d = open_dispute(
                actor=ap,
                client=acme,
                invoice_id=inv.pk,
                amount_minor=amount or None,
                line_ids=[line.pk] if line else None,
                reason="We count fewer labels than billed — several orders were cancelled before shipping.",
            )
        with clock_at(at[1]):
            post_dispute_message(
                actor=operator,
                client=acme,
                dispute_id=d.pk,
                body="Thanks — we're pulling the carrier manifests for those days and will reply by Friday.",
            )
        with clock_at(at[2]):
            post_dispute_message(
                actor=ap,
                client=acme,
                dispute_id=d.pk,
                body="The cancelled orders are SO-41877 to SO-41903, all cancelled between the "
                "12th and the 15th, before their labels should have printed.",
            )
        with clock_at(at[3]):
            add_internal_note(
                actor=operator,
                dispute_id=d.pk,
                body="Manifests show 14 voided labels re-printed. Likely legit, but goodwill credit OK up to $25.",
            )
    # A new dispute on Nordkap's newest open invoice (EUR), nobody at the 3PL has answered
    # yet: with Acme's, the operator's dispute desk has two waiting for an answer.
    nordkap = clients["nordkap"]
    nap = User.objects.get(email="ap@nordkap.example")
    inv = Invoice.objects.filter(client=nordkap, status="open").order_by("-number").first()
    if inv is not None:
        line = inv.lines.filter(kind="storage_day").first()
        with clock_at(story_moments(inv, today, 1, rng)[0]):
            open_dispute(
                actor=nap,
                client=nordkap,
                invoice_id=inv.pk,
                amount_minor=min(line.amount_minor, 4000) if line and line.amount_minor else None,
                line_ids=[line.pk] if line else None,
                reason="Aisle 07 was emptied on the 20th, but storage is billed to the month's end.",
            )
    # A settled dispute on Brightleaf: credited with a credit note.
    bright = clients["brightleaf"]
    bap = User.objects.get(email="ap@brightleaf.example")
    inv = Invoice.objects.filter(client=bright, status="open").order_by("number").first()
    if inv is not None:
        at = story_moments(inv, today, 4, rng)
        amount = max(1, min(inv.balance_minor, 2500))
        with clock_at(at[0]):
            d = open_dispute(
                actor=bap,
                client=bright,
                invoice_id=inv.pk,
                amount_minor=amount,
                reason="Storage was billed for pallets we moved out on the 3rd.",
            )
        with clock_at(at[1]):
            post_dispute_message(
                actor=operator,
                client=bright,
                dispute_id=d.pk,
                body="You're right — the move-out scan was late. We'll credit those pallet-days.",
            )
        with clock_at(at[2]):
            add_internal_note(
                actor=operator,
                dispute_id=d.pk,
                body="Scanner at dock 2 offline that week; see ticket OPS-1182.",
            )
        with clock_at(at[3]):
            resolve_dispute(
                actor=operator,
                client=bright,
                dispute_id=d.pk,
                resolution="credited",
                summary="Storage for pallets moved out on the 3rd has been credited.",
                credit_amount_minor=amount,
                credit_reason="Storage billed after move-out (pallets left on the 3rd)",
            )
    # An upheld dispute on Harbor Pet.
    harbor = clients["harbor-pet"]
    hap = User.objects.get(email="ap@harbor-pet.example")
    inv = (
        Invoice.objects.filter(client=harbor)
        .exclude(status__in=["draft", "void"])
        .order_by("number")
        .first()
    )
    if inv is not None and inv.status in ("open", "paid"):
        # Within the month after the invoice was issued.
        at = story_moments(inv, today, 3, rng, within_days=20)
        with clock_at(at[0]):
            d = open_dispute(
                actor=hap,
                client=harbor,
                invoice_id=inv.pk,
                reason="Why are there delivery stops on Saturdays? We don't deliver on weekends.",
            )
        with clock_at(at[1]):
            post_dispute_message(
                actor=operator,
                client=harbor,
                dispute_id=d.pk,
                body="Those stops were weekday deliveries; the Saturday dates are UTC timestamps "
                "from late Friday evening Pacific time. Each stop's time is on the invoice's "
                "delivery line, under its events.",
            )
        with clock_at(at[2]):
            resolve_dispute(
                actor=operator,
                client=harbor,
                dispute_id=d.pk,
                resolution="upheld",
                summary="Charges confirmed: the stops happened Friday evening local time.",
            )


def _void_and_rebill(operator, client, invoice, day):
    """An invoice issued without a surcharge is voided; its events are billed again."""
    void_invoice(
        actor=operator,
        client=client,
        invoice_id=invoice.pk,
        reason="Issued without the agreed hazmat handling surcharge; replaced by a corrected invoice.",
    )
    draft = generate_draft_invoice(
        actor=operator,
        client=client,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
    ).invoice
    add_adjustment(
        actor=operator,
        client=client,
        invoice_id=draft.pk,
        description="Hazmat handling surcharge",
        amount_minor=4500,
        reason="Aerosol SKUs handled as hazmat, per contract addendum 3",
    )
    return issue_invoice(
        actor=operator, client=client, invoice_id=draft.pk, issue_date=day + timedelta(days=2)
    )


def _story_draft_with_adjustment(operator, client):
    draft = Invoice.objects.filter(client=client, status="draft").order_by("-id").first()
    if draft is not None:
        add_adjustment(
            actor=operator,
            client=client,
            invoice_id=draft.pk,
            description="Peak-season surcharge waived",
            amount_minor=-1500,
            reason="Agreed with client in the October business review",
        )


def _story_paid_twice(operator, client, today):
    """The client's AP ran a payment batch twice: the second payment is left unallocated,
    so the portal shows a credit that will pay the next invoice."""
    last = Payment.objects.filter(client=client).order_by("-received_on", "-id").first()
    if last is None:
        return
    record_payment(
        actor=operator,
        client=client,
        amount_minor=last.amount_minor,
        currency=client.currency,
        received_on=min(today, last.received_on + timedelta(days=1)),
        method=last.method,
        idempotency_key=f"bank-{client.code}-duplicate-of-{last.pk}",
        reference=f"{last.reference}-DUP",
        payer=last.payer,
        auto_allocate=False,
    )


def _open_undisputed(client: Client) -> list[Invoice]:
    return list(
        Invoice.objects.filter(
            client=client, status="open", balance_minor__gt=0, disputes__isnull=True
        ).order_by("number")
    )


def _demo_key(story: str, client: Client) -> uuid.UUID:
    """The one-time key of a form the demo's client sends: the same on every build."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"tally-demo/{story}/{client.code}")


def _story_credit_request(client: Client, today: date) -> None:
    """The client's AP asks, from the portal, that its unapplied credit (the payment it
    sent twice) pay its two oldest open invoices, split between them: a request waiting
    in the console, holding that credit meanwhile."""
    credit = available_credit(client)
    owed = _open_undisputed(client)[:2]
    if credit <= 0 or len(owed) < 2:
        return
    first = min(owed[0].balance_minor, credit // 2 // 100 * 100 or credit)
    lines = [(owed[0].pk, first), (owed[1].pk, min(owed[1].balance_minor, credit - first))]
    with clock_at(datetime.combine(today - timedelta(days=1), time(15, 40), UTC)):
        ask_to_apply_credit(
            actor=User.objects.get(email=f"ap@{client.code}.example"),
            client=client,
            lines=[line for line in lines if line[1] > 0],
            key=_demo_key("credit-request", client),
        )


def _uncontested(client: Client) -> tuple[Invoice, int] | None:
    """The client's oldest open invoice on which it owes more than an open dispute
    contests, and that much."""
    for invoice in Invoice.objects.filter(
        client=client, status="open", balance_minor__gt=0
    ).order_by("number"):
        contested = [d.amount_minor for d in invoice.disputes.filter(status="open")]
        if None in contested:
            continue  # the whole invoice is contested
        amount = invoice.balance_minor - sum(a for a in contested if a is not None)
        if amount > 0:
            return invoice, amount
    return None


def _story_remittance_advice(candidates: list[Client], today: date) -> None:
    """The first of `candidates` that owes more than it disputes on an open invoice pays
    that much and says so in the portal ("I've paid"): the money is not at the bank yet,
    the invoice says "payment reported", and the advice waits in the console to be
    matched. A client with a dispute open pays the part it does not contest."""
    found = next((f for c in candidates if (f := _uncontested(c)) is not None), None)
    if found is None:
        return
    invoice, amount = found
    client = invoice.client
    method = next(spec for spec in CLIENTS if spec.code == client.code).methods[-1]
    with clock_at(datetime.combine(today, time(9, 15), UTC)):
        report_payment(
            actor=User.objects.get(email=f"ap@{client.code}.example"),
            client=client,
            amount_minor=amount,
            currency=invoice.currency,
            paid_on=today - timedelta(days=1),
            method=method,
            reference=f"{method.upper()} {invoice.display_number}",
            invoice_ids=[invoice.pk],
            key=_demo_key("remittance", client),
            today=today,
        )
