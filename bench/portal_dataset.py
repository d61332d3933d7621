"""Build the portal benchmark's data set: 200 clients, the largest with 5,000+ invoices and
5M+ events, one of its lines billing 1,000,000 events.

    .venv/bin/python bench/portal_dataset.py --db sqlite      # bench/data/portal-sqlite/
    .venv/bin/python bench/portal_dataset.py --db postgres    # database tally_portal_bench
    .venv/bin/python bench/portal_dataset.py --db sqlite --scale 0.02   # a quick small one

The database is created empty and migrated. Clients and rate cards are made through the
product's services; users with one precomputed password hash. Everything else is planned
in Python (invoices, lines, payments, allocations, credit notes, disputes, messages,
reminders — a few hundred thousand rows, inserted with executemany) and the events are
made by the database itself, set-based, from a plan of (line, kind, period, count) rows
(each row's events get consecutive ids, so each line bills one range of them):
a recursive-CTE numbers table joined to the plan on SQLite, generate_series on
PostgreSQL. The event table's secondary indexes are dropped for the load and built again
afterwards, which is far faster than maintaining them row by row.

The shape, anchored on the day it is built (`--today`):

* client 0, "Globalmart Fulfilment": 20 sites invoiced weekly for five years (5,200
  invoices plus the void ones they replaced), ~5.4M events; the pick line of site 0 in
  Cyber Week 2025 bills exactly 1,000,000 events.
* clients 1..199 share ~2.5M events on a Zipf curve; the top ones are invoiced weekly,
  the rest monthly, over five or two years.
* as a 3PL's receivables look: old invoices nearly all paid (a few still overdue), recent
  ones a mix of paid, partially paid, open and overdue; ~1% voided and re-issued; goodwill
  credit notes; resolved disputes (credited, upheld, withdrawn) and open ones, with their
  conversations; payments that settle a day's invoices together, some overpaid (unapplied
  credit); every issued invoice's reminder schedule, sent, skipped or still to come; the
  last period of half the clients still a draft; the current week's events unbilled.

Invariants held (and checked at the end unless --no-check): every billed event is on one
line of a non-void invoice; a line's quantity and event count are its events'; amount =
quantity × unit price rounded half up; total = lines + tax; balance = total − allocations −
credits ≥ 0, paid exactly when it is zero; a payment's allocations never exceed it;
invoice and credit-note numbers gapless.

Not made: audit events for the bulk rows (the chain is left as the migrations made it).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import portal_common as common

from tally.audit.actors import SystemActor

PRICES = {"pick": "0.3500", "label": "0.0450", "stop": "12.5000", "storage_day": "0.8125"}
KIND_MIX = {"pick": 0.60, "label": 0.25, "storage_day": 0.10, "stop": 0.05}
CURRENCIES = ("USD", "USD", "EUR", "GBP", "USD", "CAD", "JPY", "USD")
ZONES = ("America/New_York", "UTC", "Europe/Berlin", "America/Chicago", "America/Los_Angeles")
STREETS = ("Harbor Way", "Elm St", "Maple Ave", "Industrial Pkwy", "Commerce Dr", "Oak Ln")
CITIES = ("Springfield", "Riverton", "Fairview", "Lakeside", "Port City", "Greenville")
METHODS = ("ach", "ach", "ach", "wire", "check", "card")
OFFSETS = (-3, 0, 7, 14, 30)
DISPUTE_REASONS = (
    "Storage days billed for pallets we shipped out on the 3rd.",
    "Pick count looks doubled for the Tuesday wave.",
    "Labels billed for orders that were cancelled before shipping.",
    "Delivery stop charged twice for the same address.",
    "The rate applied does not match our contract amendment.",
)
RESOLUTIONS = {
    "credited": "We found the duplicate and credited the difference.",
    "upheld": "The charges match the scanned events; the invoice stands.",
    "withdrawn": "Withdrawn by the client after reviewing the event list.",
}
GOODWILL = "Goodwill credit for the late-shipment week."


@dataclass
class ClientSpec:
    index: int
    id: int
    code: str
    currency: str
    time_zone: str
    tax_rate_bp: int | None
    terms: int
    sites: int
    cadence: str  # week, month
    periods: list[tuple[date, date]]
    events: int  # billed events to spread over its invoices
    user_id: int = 0


@dataclass
class Tables:
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    plan: list[tuple[Any, ...]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)
    credit_notes: list[dict[str, Any]] = field(default_factory=list)
    disputes: list[dict[str, Any]] = field(default_factory=list)
    dispute_lines: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    reminders: list[dict[str, Any]] = field(default_factory=list)


def stamp(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def weekly_periods(today: date, weeks: int) -> list[tuple[date, date]]:
    last_sunday = today - timedelta(days=today.weekday() + 1)
    return [
        (last_sunday - timedelta(days=7 * w + 6), last_sunday - timedelta(days=7 * w))
        for w in range(weeks - 1, -1, -1)
    ]


def monthly_periods(today: date, months: int) -> list[tuple[date, date]]:
    out = []
    end = today.replace(day=1) - timedelta(days=1)
    for _ in range(months):
        start = end.replace(day=1)
        out.append((start, end))
        end = start - timedelta(days=1)
    return out[::-1]


def quantity_sum(kind: str, count: int) -> int:
    """The sum of the quantities the event SQL gives events 1..count of a line."""
    if kind == "pick":  # 2 on every 7th event, else 1
        return count + count // 7
    if kind == "storage_day":  # 1 + n % 4 pallets
        q, r = divmod(count, 4)
        return count + 6 * q + r * (r + 1) // 2
    return count


# -- clients -----------------------------------------------------------------------------
def make_clients(n_clients: int, scale: float, today: date) -> list[ClientSpec]:
    from django.contrib.auth.hashers import make_password

    from tally.accounts.models import Role, User
    from tally.clients.services import create_client
    from tally.rating.services import create_rate_card

    harmonic = sum(1 / k for k in range(1, n_clients))
    specs = []
    for i in range(n_clients):
        if i == 0:
            name, code = "Globalmart Fulfilment", "globalmart"
            sites, cadence, periods = 20, "week", weekly_periods(today, 260)
            events = int(4_400_000 * scale)
            currency, tz, tax = "USD", "America/New_York", 825
        else:
            name, code = f"Portal Bench Client {i:03d}", f"pbench-{i:03d}"
            sites = 1
            events = int(2_500_000 * scale / i / harmonic)
            if i <= 20:
                cadence, periods = "week", weekly_periods(today, 260 if i <= 10 else 104)
            else:
                cadence, periods = "month", monthly_periods(today, 60 if i <= 60 else 24)
            currency, tz = CURRENCIES[i % len(CURRENCIES)], ZONES[i % len(ZONES)]
            tax = 825 if i % 3 == 0 else (2000 if currency in ("EUR", "GBP") else None)
        client = create_client(
            actor=SystemActor.BENCHMARK,
            name=name,
            code=code,
            currency=currency,
            payment_terms_days=30 if i % 4 else 15 if i else 30,
            time_zone=tz,
            tax_rate_bp=tax,
            address=f"{100 + i} {STREETS[i % len(STREETS)]}\n{CITIES[i % len(CITIES)]}",
            billing_contacts=[("Accounts Payable", f"ap@{code}.example")],
        )
        create_rate_card(
            actor=SystemActor.BENCHMARK,
            client=client,
            effective_from=date(today.year - 6, 1, 1),
            prices=PRICES,
            name="Standard",
        )
        specs.append(
            ClientSpec(
                index=i,
                id=client.pk,
                code=code,
                currency=currency,
                time_zone=tz,
                tax_rate_bp=tax,
                terms=client.payment_terms_days,
                sites=sites,
                cadence=cadence,
                periods=periods,
                events=events,
            )
        )
    password = make_password("portal-bench-password")
    users = [
        User(
            email="ops@portal-bench.example",
            password=password,
            role=Role.OPERATOR,
            full_name="Bench Operator",
        )
    ]
    for s in specs:
        users.append(
            User(
                email=f"ap@{s.code}.example",
                password=password,
                role=Role.CLIENT_USER,
                client_id=s.id,
                full_name=f"AP clerk {s.code}",
            )
        )
    made = User.objects.bulk_create(users)
    if made[0].pk is None:  # SQLite before RETURNING support would leave ids unset
        by_email = dict(User.objects.values_list("email", "id"))
        for u in made:
            u.pk = by_email[u.email]
    for s, u in zip(specs, made[1:], strict=True):
        s.user_id = u.pk
    return specs


# -- the plan ----------------------------------------------------------------------------
class Planner:
    def __init__(self, specs: list[ClientSpec], today: date, seed: int, operator_id: int):
        from tally.invoicing.services import local_midnight_utc
        from tally.money import line_amount, parse_price, tax_amount

        self.specs = specs
        self.today = today
        self.rng = random.Random(seed)
        self.operator_id = operator_id
        self.t = Tables()
        self.micros = {k: parse_price(v) for k, v in PRICES.items()}
        self.line_amount, self.tax_amount = line_amount, tax_amount
        self.midnight = local_midnight_utc
        self.ids: dict[str, int] = defaultdict(int)
        self.ref_base: dict[int, int] = defaultdict(int)
        self.million: dict[str, Any] = {}
        self.pending: list[tuple[int, date, bool, int, int, str]] = []

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def run(self) -> Tables:
        for spec in self.specs:
            self.client(spec)
        self.number_invoices()
        self.payments()
        self.number_credit_notes()
        return self.t

    # one client ------------------------------------------------------------------------
    def client(self, spec: ClientSpec) -> None:
        rng = self.rng
        slots = [(p, site) for p in spec.periods for site in range(spec.sites)]
        per_invoice = max(8, spec.events // max(1, len(slots)))
        kinds = ["pick", "label", "storage_day"]
        draft_last = spec.index % 2 == 0
        million_slot = None
        if spec.index == 0:
            cyber = date(self.today.year - 1, 11, 28)  # in Cyber Week of last year
            million_slot = next(
                (p, 0) for p in spec.periods if p[0] <= cyber <= p[1]
            )  # site 0's week
        for period, site in slots:
            is_last = period == spec.periods[-1]
            status = "draft" if draft_last and is_last else "issued"
            season = 1.5 if period[0].month in (11, 12) else 1.0
            wanted = per_invoice * season * rng.uniform(0.5, 1.5)
            site_kinds = kinds + (["stop"] if (site % 4 == 0 and spec.index % 3 != 1) else [])
            counts = {
                k: max(1, int(wanted * KIND_MIX[k] / sum(KIND_MIX[x] for x in site_kinds)))
                for k in site_kinds
            }
            if (period, site) == million_slot:
                counts["pick"] = 1_000_000
            void_first = (
                status == "issued"
                and period[1] + timedelta(days=40) < self.today
                and rng.random() < 0.01
                and (period, site) != million_slot
            )
            issue_day = period[1] + timedelta(days=rng.choice((1, 1, 2, 3)))
            if void_first:
                void_issue = issue_day
                issue_day = issue_day + timedelta(days=rng.randint(2, 5))
                self.invoice(spec, period, counts, "void", void_issue, voided_on=issue_day)
            inv = self.invoice(spec, period, counts, status, issue_day)
            if (period, site) == million_slot:
                line = next(ln for ln in self.t.lines if ln["invoice_id"] == inv["id"])
                self.million = {"invoice_id": inv["id"], "line_id": line["id"]}
        # This week's events, not yet invoiced.
        start = self.today - timedelta(days=self.today.weekday())
        if start < self.today:
            n = max(5, per_invoice * spec.sites // 3)
            self.add_plan(spec, None, "pick", start, self.today - timedelta(days=1), n)

    def add_plan(
        self, spec: ClientSpec, line_id: int | None, kind: str, first: date, last: date, n: int
    ) -> None:
        t0 = self.midnight(first, spec.time_zone)
        t1 = self.midnight(last + timedelta(days=1), spec.time_zone)
        span = int((t1 - t0).total_seconds())
        plan_id = len(self.t.plan) + 1
        prefix = f"L{line_id}-" if line_id else f"U{plan_id}-"
        batch = first.year * 100 + first.month
        self.t.plan.append(
            (
                plan_id,
                batch,
                spec.id,
                line_id,
                kind,
                int(t0.timestamp()),
                span,
                n,
                spec.index,
                prefix,
                self.ref_base[spec.id],
            )
        )
        self.ref_base[spec.id] += n

    def invoice(
        self,
        spec: ClientSpec,
        period: tuple[date, date],
        counts: dict[str, int],
        status: str,
        issue_day: date,
        voided_on: date | None = None,
    ) -> dict[str, Any]:
        inv_id = self.next_id("invoice")
        subtotal = 0
        for position, (kind, n) in enumerate(counts.items(), start=1):
            line_id = self.next_id("line")
            quantity = quantity_sum(kind, n)
            micros = self.micros[kind]
            amount = self.line_amount(quantity, micros, spec.currency)
            subtotal += amount
            label = {
                "pick": "Pick",
                "label": "Shipping label",
                "stop": "Delivery stop",
                "storage_day": "Storage day",
            }
            self.t.lines.append(
                {
                    "id": line_id,
                    "client_id": spec.id,
                    "invoice_id": inv_id,
                    "line_type": "usage",
                    "kind": kind,
                    "description": f"{label[kind]}s at {PRICES[kind]} {spec.currency}",
                    "quantity": quantity,
                    "unit_price_micros": micros,
                    "amount_minor": amount,
                    "event_count": n,
                    "reason": "",
                    "position": position,
                }
            )
            if status != "void":  # a void invoice's events were released and billed again
                self.add_plan(spec, line_id, kind, period[0], period[1], n)
        rate = spec.tax_rate_bp or 0
        tax = self.tax_amount(subtotal, rate) if subtotal > 0 else 0
        created = stamp(period[1] + timedelta(days=1), 2)
        inv: dict[str, Any] = {
            "id": inv_id,
            "client_id": spec.id,
            "status": status,
            "number": None,
            "period_start": period[0],
            "period_end": period[1],
            "currency": spec.currency,
            "issue_date": None,
            "due_date": None,
            "tax_rate_bp": rate,
            "subtotal_minor": subtotal,
            "tax_minor": tax,
            "total_minor": subtotal + tax,
            "allocated_minor": 0,
            "credited_minor": 0,
            "void_reason": "",
            "created_at": created,
            "issued_at": None,
            "paid_at": None,
            "voided_at": None,
            "_spec": spec,
        }
        self.t.invoices.append(inv)
        if status == "draft":
            return inv
        inv["issue_date"] = issue_day
        inv["due_date"] = issue_day + timedelta(days=spec.terms)
        inv["issued_at"] = stamp(issue_day, 8, self.rng.randint(0, 59))
        if status == "void":
            inv["voided_at"] = stamp(voided_on or issue_day, 10)
            inv["void_reason"] = "Re-issued with the corrected storage count."
            self.reminders(inv, settled=voided_on, why="invoice voided")
            return inv
        self.settle(inv)
        return inv

    def settle(self, inv: dict[str, Any]) -> None:
        """Decide what happened to an issued invoice by today: credits, disputes, payments."""
        rng, today = self.rng, self.today
        spec: ClientSpec = inv["_spec"]
        issue, due, total = inv["issue_date"], inv["due_date"], inv["total_minor"]
        age = (today - due).days  # days past due (negative: not yet due)
        credits: list[tuple[date, int, str, int | None]] = []  # (day, amount, reason, dispute)
        open_dispute_day = None
        # Goodwill credits.
        if rng.random() < 0.02 and issue + timedelta(days=3) < today:
            amount = max(1, total * rng.randint(1, 10) // 100)
            credits.append((issue + timedelta(days=rng.randint(1, 3)), amount, GOODWILL, None))
        # Disputes: resolved on older invoices, open on recent unpaid ones.
        if age > 30 and rng.random() < 0.03:
            opened = issue + timedelta(days=rng.randint(2, 12))
            resolved = min(today - timedelta(days=1), opened + timedelta(days=rng.randint(2, 20)))
            resolution = rng.choice(("credited", "credited", "upheld", "upheld", "withdrawn"))
            remaining = total - sum(c[1] for c in credits)
            amount = max(1, remaining * rng.randint(2, 20) // 100) if remaining > 1 else None
            if resolution == "credited" and amount is None:
                resolution = "upheld"
            d = self.dispute(inv, spec, opened, amount, resolution, resolved)
            if resolution == "credited":
                assert amount is not None
                credits.append((resolved, amount, RESOLUTIONS["credited"], d["id"]))
        elif -30 < age and issue < today - timedelta(days=2) and rng.random() < 0.04:
            open_dispute_day = min(
                today - timedelta(days=1), issue + timedelta(days=rng.randint(2, 10))
            )
            remaining = total - sum(c[1] for c in credits)
            amount = max(1, remaining * rng.randint(5, 40) // 100) if remaining > 1 else None
            self.dispute(inv, spec, open_dispute_day, amount, None, None)
        credited = 0
        last_event = issue
        for day, amount, reason, dispute_id in credits:
            amount = min(amount, total - credited)
            if amount <= 0:
                continue
            note_id = self.next_id("credit_note")
            self.t.credit_notes.append(
                {
                    "id": note_id,
                    "client_id": spec.id,
                    "invoice_id": inv["id"],
                    "number": 0,
                    "amount_minor": amount,
                    "reason": reason,
                    "created_by_id": self.operator_id,
                    "created_at": stamp(day, 15),
                }
            )
            if dispute_id is not None:
                self.t.disputes[-1]["credit_note_id"] = note_id
            credited += amount
            last_event = max(last_event, day)
        inv["credited_minor"] = credited
        remaining = total - credited
        # Payments.
        if age > 60:
            p_paid, p_partial = 0.985, 0.4
        elif age > 0:
            p_paid, p_partial = 0.6, 0.3
        else:
            p_paid, p_partial = 0.15, 0.15
        if open_dispute_day is not None:
            p_paid = 0.0
        roll = rng.random()
        pay_day = None
        if remaining > 0 and roll < p_paid:
            late = age > 0 and rng.random() < 0.3
            pay_day = (
                due + timedelta(days=rng.randint(1, min(40, max(1, age))))
                if late
                else due - timedelta(days=rng.randint(0, min(12, spec.terms - 1)))
            )
            pay_day = min(max(pay_day, issue + timedelta(days=1), last_event), today)
            self.pay(inv, pay_day, remaining, group=True)
            inv["allocated_minor"] = remaining
        elif remaining > 1 and rng.random() < p_partial:
            part = max(1, remaining * rng.randint(30, 70) // 100)
            pay_day = min(today, issue + timedelta(days=rng.randint(3, 25)))
            self.pay(inv, pay_day, part, group=False)
            inv["allocated_minor"] = part
        balance = total - inv["credited_minor"] - inv["allocated_minor"]
        assert balance >= 0
        if balance == 0:
            inv["status"] = "paid"
            settled = max(pay_day or issue, last_event)
            inv["paid_at"] = stamp(settled, 16)
            self.reminders(inv, settled=settled, why="invoice paid")
        else:
            inv["status"] = "open"
            self.reminders(inv, settled=None, why="", paused_from=open_dispute_day)

    def dispute(
        self,
        inv: dict[str, Any],
        spec: ClientSpec,
        opened: date,
        amount: int | None,
        resolution: str | None,
        resolved: date | None,
    ) -> dict[str, Any]:
        rng = self.rng
        d_id = self.next_id("dispute")
        reason = rng.choice(DISPUTE_REASONS)
        d = {
            "id": d_id,
            "client_id": spec.id,
            "invoice_id": inv["id"],
            "status": "resolved" if resolution else "open",
            "amount_minor": amount,
            "reason": reason,
            "opened_by_id": spec.user_id,
            "opened_at": stamp(opened, 11),
            "resolution": resolution or "",
            "resolution_summary": RESOLUTIONS[resolution] if resolution else "",
            "resolved_by_id": self.operator_id if resolution else None,
            "resolved_at": stamp(resolved, 17) if resolved else None,
            "credit_note_id": None,
        }
        self.t.disputes.append(d)
        if rng.random() < 0.5:
            line = self._first_line(inv["id"])
            self.t.dispute_lines.append(
                {
                    "id": self.next_id("dispute_line"),
                    "client_id": spec.id,
                    "dispute_id": d_id,
                    "line_id": line,
                }
            )
        talk = [("client", spec.user_id, reason, opened, 11)]
        talk.append(
            (
                "operator",
                self.operator_id,
                "Thanks — we are checking the scans.",
                opened + timedelta(days=1),
                10,
            )
        )
        if rng.random() < 0.5:
            talk.append(
                (
                    "client",
                    spec.user_id,
                    "Attached the pick list for that day.",
                    opened + timedelta(days=2),
                    9,
                )
            )
        for side, author, body, day, hour in talk:
            if day > self.today:
                continue
            self.t.messages.append(
                {
                    "id": self.next_id("message"),
                    "client_id": spec.id,
                    "dispute_id": d_id,
                    "author_id": author,
                    "author_side": side,
                    "body": body,
                    "created_at": stamp(day, hour),
                }
            )
        return d

    def _first_line(self, invoice_id: int) -> int:
        for ln in reversed(self.t.lines):
            if ln["invoice_id"] == invoice_id and ln["position"] == 1:
                return int(ln["id"])
        raise AssertionError("invoice without lines")

    def pay(self, inv: dict[str, Any], day: date, amount: int, group: bool) -> None:
        self.pending.append((inv["client_id"], day, group, inv["id"], amount, inv["currency"]))

    def payments(self) -> None:
        """Invoices paid in full on the same day share one payment; partial payments stand alone."""
        rng = self.rng
        groups: dict[tuple[int, date], list[tuple[int, int, str]]] = defaultdict(list)
        singles = []
        for client_id, day, group, inv_id, amount, currency in self.pending:
            if group:
                groups[(client_id, day)].append((inv_id, amount, currency))
            else:
                singles.append(((client_id, day), [(inv_id, amount, currency)]))
        names = {s.id: s.code for s in self.specs}
        for (client_id, day), allocs in sorted(groups.items()) + singles:
            pay_id = self.next_id("payment")
            allocated = sum(a for _, a, _ in allocs)
            extra = rng.randint(1, 5000) if rng.random() < 0.03 else 0
            method = rng.choice(METHODS)
            self.t.payments.append(
                {
                    "id": pay_id,
                    "client_id": client_id,
                    "amount_minor": allocated + extra,
                    "currency": allocs[0][2],
                    "received_on": day,
                    "method": method,
                    "reference": f"{method.upper()}-{pay_id:08d}",
                    "payer": f"{names[client_id]} AP",
                    "allocated_minor": allocated,
                    "refunded_minor": 0,
                    "idempotency_key": f"bench-payment-{pay_id}",
                    "request_hash": f"{pay_id:064x}",
                    "recorded_by_id": self.operator_id,
                    "created_at": stamp(day, 12),
                }
            )
            for inv_id, amount, _ in allocs:
                self.t.allocations.append(
                    {
                        "id": self.next_id("allocation"),
                        "client_id": client_id,
                        "payment_id": pay_id,
                        "invoice_id": inv_id,
                        "amount_minor": amount,
                        "created_at": stamp(day, 12),
                    }
                )

    def reminders(
        self,
        inv: dict[str, Any],
        settled: date | None,
        why: str,
        paused_from: date | None = None,
    ) -> None:
        due, issue = inv["due_date"], inv["issue_date"]
        for offset in OFFSETS:
            day = due + timedelta(days=offset)
            if day < issue:
                continue
            status, detail, sent = "scheduled", "", None
            if settled is not None and day >= settled:
                status, detail = "skipped", why
            elif day <= self.today:
                if paused_from is not None and day >= paused_from:
                    status = "scheduled"  # held back while disputed: the portal shows "paused"
                elif self.rng.random() < 0.01:
                    status, detail = "failed", "SMTP 550: mailbox unavailable"
                else:
                    status, sent = "sent", stamp(day, 14, 5)
            self.t.reminders.append(
                {
                    "id": self.next_id("reminder"),
                    "client_id": inv["client_id"],
                    "invoice_id": inv["id"],
                    "offset_days": offset,
                    "scheduled_for": day,
                    "status": status,
                    "status_detail": detail,
                    "claimed_at": sent,
                    "sent_at": sent,
                }
            )

    def number_invoices(self) -> None:
        issued = [i for i in self.t.invoices if i["issued_at"] is not None]
        issued.sort(key=lambda i: (i["issued_at"], i["id"]))
        for n, inv in enumerate(issued, start=1):
            inv["number"] = n

    def number_credit_notes(self) -> None:
        notes = sorted(self.t.credit_notes, key=lambda c: (c["created_at"], c["id"]))
        for n, note in enumerate(notes, start=1):
            note["number"] = n


# -- loading -----------------------------------------------------------------------------
class Loader:
    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.pg = connection.vendor == "postgresql"

    def value(self, v: Any) -> Any:
        if self.pg or v is None:
            return v
        if isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        if isinstance(v, date):
            return v.isoformat()
        return v

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = [c for c in rows[0] if not c.startswith("_")]
        names = ", ".join('"' + c + '"' for c in cols)
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join(["%s"] * len(cols))})'
        data = [[self.value(r[c]) for c in cols] for r in rows]
        with self.connection.cursor() as cursor:
            if self.pg:  # COPY: several times faster than executemany
                with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in data:
                        copy.write_row(row)
                return
            for i in range(0, len(data), 20_000):
                cursor.executemany(sql, data[i : i + 20_000])

    def event_indexes(self) -> list[str]:
        """Drop the event table's secondary indexes (and, on PostgreSQL, its unique
        constraint); return the statements that make them again. The client check stays:
        on PostgreSQL a statement trigger, one set-based query per month's INSERT."""
        again: list[str] = []
        with self.connection.cursor() as cursor:
            if self.pg:
                cursor.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'operations_event'::regclass AND contype IN ('u', 'f')"
                )
                for name, definition in cursor.fetchall():
                    cursor.execute(f'ALTER TABLE operations_event DROP CONSTRAINT "{name}"')
                    again.append(
                        f'ALTER TABLE operations_event ADD CONSTRAINT "{name}" {definition}'
                    )
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'operations_event' "
                    "AND indexname NOT IN (SELECT conname FROM pg_constraint "
                    "WHERE conrelid = 'operations_event'::regclass)"
                )
            else:
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = 'operations_event' AND sql IS NOT NULL"
                )
            for name, definition in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
                again.insert(0, definition)
        return again

    def events(self, plan: list[tuple[Any, ...]], progress: bool) -> dict[int, int]:
        """Insert the plan's events; return each plan row's first id minus one.

        Each plan row's events get consecutive ids (given explicitly, in batch order), so
        a line bills exactly one range: its period and its block of ids.
        """
        columns = (
            "id, batch, client_id, line_id, kind, start_epoch, span, cnt, cnum, ext_prefix, "
            "ref_base, id_base"
        )
        bases: dict[int, int] = {}
        rows = []
        next_base = 0
        for p in sorted(plan, key=lambda p: (p[1], p[0])):
            bases[p[0]] = next_base
            rows.append((*p, next_base))
            next_base += p[7]
        with self.connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_plan")
            cursor.execute(
                "CREATE TABLE bench_plan (id bigint PRIMARY KEY, batch integer, client_id bigint, "
                "line_id bigint, kind varchar(32), start_epoch bigint, span bigint, cnt bigint, "
                "cnum integer, ext_prefix varchar(40), ref_base bigint, id_base bigint)"
            )
            cursor.execute("CREATE INDEX bench_plan_batch ON bench_plan (batch)")
            cursor.executemany(
                f"INSERT INTO bench_plan ({columns}) VALUES ({', '.join(['%s'] * 12)})", rows
            )
            biggest = max(p[7] for p in plan)
            if not self.pg:
                cursor.execute("DROP TABLE IF EXISTS bench_nums")
                cursor.execute("CREATE TABLE bench_nums (n INTEGER PRIMARY KEY)")
                cursor.execute(
                    "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
                    "INSERT INTO bench_nums SELECT n FROM s",
                    [biggest],
                )
            batches = sorted({p[1] for p in plan})
            total = 0
            started = time.perf_counter()
            for b in batches:
                cursor.execute(self._event_sql(), [b])
                total += cursor.rowcount
                if progress and b % 100 == 12:
                    print(
                        f"    events to {b // 100}: {total:,} ({time.perf_counter() - started:.0f} s)",
                        flush=True,
                    )
            cursor.execute("DROP TABLE bench_plan")
            if not self.pg:
                cursor.execute("DROP TABLE bench_nums")
        assert total == next_base, f"{total} events inserted, {next_base} planned"
        return bases

    def _event_sql(self) -> str:
        if self.pg:
            ts = "to_timestamp(p.start_epoch + ((n - 1) * p.span) / p.cnt)"
            num = "n"
            src = "bench_plan p CROSS JOIN LATERAL generate_series(1, p.cnt) AS n"

            def pad(expr: str, width: int) -> str:
                return f"lpad(({expr})::text, {width}, '0')"

            def obj(*pairs: str) -> str:
                return f"jsonb_build_object({', '.join(pairs)})"

            hexed = "lpad(to_hex(p.id), 16, '0') || lpad(to_hex(n), 16, '0')"
        else:
            ts = "datetime(p.start_epoch + ((n.n - 1) * p.span) / p.cnt, 'unixepoch')"
            num = "n.n"
            # CROSS JOIN: SQLite keeps the plan as the outer loop (each line's numbers by range).
            src = "bench_plan p CROSS JOIN bench_nums n ON n.n <= p.cnt"

            def pad(expr: str, width: int) -> str:
                return f"printf('%0{width}d', {expr})"

            def obj(*pairs: str) -> str:
                return f"json_object({', '.join(pairs)})"

            hexed = "printf('%016x%016x', p.id, n.n)"
        cnum = pad("p.cnum", 3)
        order = f"'SO-' || {cnum} || '-' || {pad(f'p.ref_base + {num} / 3', 9)}"
        tracking = f"'1Z' || {cnum} || {pad(f'p.ref_base + {num}', 12)}"
        street = (
            f"CASE {num} % 6 WHEN 0 THEN 'Harbor Way' WHEN 1 THEN 'Elm St' WHEN 2 THEN 'Maple Ave' "
            "WHEN 3 THEN 'Industrial Pkwy' WHEN 4 THEN 'Commerce Dr' ELSE 'Oak Ln' END"
        )
        pallet = f"'PLT-' || {cnum} || {pad(f'{num} % 2000', 6)}"
        reference = (
            f"CASE p.kind WHEN 'pick' THEN {order} WHEN 'label' THEN {tracking} "
            f"WHEN 'stop' THEN ({num} % 900 + 100) || ' ' || {street} ELSE {pallet} END"
        )
        sku = f"'SKU-' || {cnum} || '-' || {pad(num + ' * 7 % 9973', 4)}"
        route = f"'R-' || {pad(num + ' % 50', 3)}"
        location = f"'A-' || {pad(num + ' % 40 + 1', 2)} || '-' || {pad(num + ' % 6 + 1', 2)}"
        pick_details = obj("'sku'", sku, "'order'", order)
        label_details = obj(
            "'carrier'", "'UPS'", "'service'", "'Ground'", "'weight_oz'", f"{num} % 80 + 1"
        )
        stop_details = obj("'route'", route, "'stop_no'", f"{num} % 40 + 1")
        storage_details = obj("'location'", location)
        details = (
            f"CASE p.kind WHEN 'pick' THEN {pick_details} WHEN 'label' THEN {label_details} "
            f"WHEN 'stop' THEN {stop_details} ELSE {storage_details} END"
        )
        quantity = (
            f"CASE p.kind WHEN 'pick' THEN CASE WHEN {num} % 7 = 0 THEN 2 ELSE 1 END "
            f"WHEN 'storage_day' THEN 1 + {num} % 4 ELSE 1 END"
        )
        return (
            (
                "INSERT INTO operations_event (id, kind, occurred_at, quantity, reference, details, "
                "source, external_id, payload_hash, ingested_at, client_id) "
                f"SELECT eid, kind, ts, qty, ref, det, 'wms', ext, hsh, ts, client_id FROM ("
                f"SELECT p.id_base + {num} AS eid, p.kind AS kind, {ts} AS ts, {quantity} AS qty, "
                f"{reference} AS ref, {details} AS det, p.ext_prefix || {num} AS ext, "
                f"{hexed} AS hsh, p.client_id AS client_id FROM {src} WHERE p.batch = <batch>"
                ") AS e ORDER BY ts"
            )
            .replace("%", "%%")
            .replace("<batch>", "%s")
        )  # % is the modulo operator here


# Each range joined to the events it bills.
BILLED = """invoicing_billedrange r JOIN operations_event e ON e.client_id = r.client_id
    AND e.kind = r.kind AND e.occurred_at >= r.occurred_from AND e.occurred_at < r.occurred_to
    AND e.id > r.after_id AND e.id <= r.upto_id"""


def check(pg: bool) -> dict[str, int]:
    """The domain invariants, over everything loaded. Returns counts of violations."""
    from django.db import connection

    checks = {
        "line quantity/event count ≠ its events'": f"""
            SELECT count(*) FROM invoicing_invoiceline l
            JOIN invoicing_invoice i ON i.id = l.invoice_id AND i.status <> 'void'
            LEFT JOIN (SELECT r.line_id, sum(e.quantity) q, count(*) c FROM {BILLED}
                       GROUP BY r.line_id) e ON e.line_id = l.id
            WHERE l.line_type = 'usage'
              AND (coalesce(e.q, 0) <> l.quantity OR coalesce(e.c, 0) <> l.event_count)""",
        "events on two lines of live invoices": f"""
            SELECT count(*) - count(DISTINCT e.id) FROM {BILLED}
            JOIN invoicing_invoice i ON i.id = r.invoice_id AND i.status <> 'void'""",
        "ranges not of their line's client and invoice": """
            SELECT count(*) FROM invoicing_billedrange r
            JOIN invoicing_invoiceline l ON l.id = r.line_id
            WHERE r.client_id <> l.client_id OR r.invoice_id <> l.invoice_id""",
        "subtotal ≠ sum of lines, total ≠ subtotal + tax": """
            SELECT count(*) FROM invoicing_invoice i
            WHERE i.subtotal_minor <> (SELECT coalesce(sum(amount_minor), 0)
                                       FROM invoicing_invoiceline l WHERE l.invoice_id = i.id)
               OR i.total_minor <> i.subtotal_minor + i.tax_minor""",
        "allocated/credited ≠ their rows": """
            SELECT count(*) FROM invoicing_invoice i
            WHERE i.allocated_minor <> (SELECT coalesce(sum(amount_minor), 0)
                                        FROM payments_allocation a WHERE a.invoice_id = i.id)
               OR i.credited_minor <> (SELECT coalesce(sum(amount_minor), 0)
                                       FROM invoicing_creditnote c WHERE c.invoice_id = i.id)""",
        "balance < 0, or paid ⇔ balance 0 broken": """
            SELECT count(*) FROM invoicing_invoice
            WHERE balance_minor < 0
               OR (status IN ('open', 'paid') AND (status = 'paid') <> (balance_minor = 0))""",
        "payment allocations ≠ allocated_minor": """
            SELECT count(*) FROM payments_payment p
            WHERE p.allocated_minor <> (SELECT coalesce(sum(amount_minor), 0)
                                        FROM payments_allocation a WHERE a.payment_id = p.id)""",
        "issued without a number, numbers not gapless": """
            SELECT (SELECT count(*) FROM invoicing_invoice WHERE status IN ('open', 'paid') AND number IS NULL)
                 + (SELECT count(*) - coalesce(max(number), 0) FROM invoicing_invoice WHERE number IS NOT NULL)
                 + (SELECT count(*) - coalesce(max(number), 0) FROM invoicing_creditnote)""",
        "issued invoices without reminders": """
            SELECT count(*) FROM invoicing_invoice i WHERE i.status <> 'draft'
              AND NOT EXISTS (SELECT 1 FROM reminders_reminder r WHERE r.invoice_id = i.id)""",
    }
    out = {}
    with connection.cursor() as cursor:
        for name, sql in checks.items():
            cursor.execute(sql)
            out[name] = int(cursor.fetchone()[0])
    return out


def fresh_database(db: str) -> None:
    if db == "postgres":
        import psycopg

        with psycopg.connect(common.PG_SERVER + "postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{common.PG_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{common.PG_DB}"')
    else:
        for suffix in ("", "-wal", "-shm", "-journal"):
            (common.var_dir("sqlite") / f"tally.sqlite3{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=common.DBS, required=True)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--scale", type=float, default=1.0, help="event volume factor (1.0: 5M+)")
    parser.add_argument("--today", type=date.fromisoformat, default=None)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="leave the planner without statistics: no ANALYZE, and autovacuum off on "
        "every table (PostgreSQL), as a database that has never been analysed",
    )
    args = parser.parse_args()

    common.configure(args.db)
    fresh_database(args.db)
    common.setup_django()
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from tally.accounts.models import User
    from tally.clients.models import Client

    today = args.today or timezone.now().date()
    timings: dict[str, float] = {}
    t_all, cpu_all = time.perf_counter(), time.process_time()

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    timings["migrate"] = time.perf_counter() - t
    pg = connection.vendor == "postgresql"
    if pg and args.no_analyze:
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                cursor.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
    with connection.cursor() as cursor:
        if pg:
            cursor.execute("SET synchronous_commit = off")
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET work_mem = '256MB'")
        else:
            cursor.execute("PRAGMA journal_mode = DELETE")
            cursor.execute("PRAGMA synchronous = OFF")
            cursor.execute("PRAGMA cache_size = -1000000")
            cursor.execute("PRAGMA temp_store = MEMORY")

    t = time.perf_counter()
    with transaction.atomic():
        specs = make_clients(args.clients, args.scale, today)
    operator_id = User.objects.get(email="ops@portal-bench.example").pk
    timings["clients, rate cards, users (services)"] = time.perf_counter() - t

    t = time.perf_counter()
    planner = Planner(specs, today, args.seed, operator_id)
    tables = planner.run()
    timings["plan (Python)"] = time.perf_counter() - t

    loader = Loader()
    t = time.perf_counter()
    with transaction.atomic():
        loader.insert("invoicing_invoice", tables.invoices)
        loader.insert("invoicing_invoiceline", tables.lines)
        loader.insert("invoicing_creditnote", tables.credit_notes)
        loader.insert("payments_payment", tables.payments)
        loader.insert("payments_allocation", tables.allocations)
        loader.insert("disputes_dispute", tables.disputes)
        loader.insert("disputes_disputeline", tables.dispute_lines)
        loader.insert("disputes_disputemessage", tables.messages)
        loader.insert("reminders_reminder", tables.reminders)
        with connection.cursor() as cursor:
            for name, last in (
                ("invoice", max((i["number"] or 0) for i in tables.invoices)),
                ("credit_note", len(tables.credit_notes)),
            ):
                cursor.execute(
                    "UPDATE invoicing_numbersequence SET last_value = %s WHERE name = %s",
                    [last, name],
                )
    timings["invoices, lines, payments, disputes, reminders (executemany; COPY on PostgreSQL)"] = (
        time.perf_counter() - t
    )

    t = time.perf_counter()
    with transaction.atomic():
        again = loader.event_indexes()
        bases = loader.events(tables.plan, progress=True)
        invoice_of = {ln["id"]: ln["invoice_id"] for ln in tables.lines}
        loader.insert(
            "invoicing_billedrange",
            [
                {
                    "id": n,
                    "client_id": client_id,
                    "invoice_id": invoice_of[line_id],
                    "line_id": line_id,
                    "kind": kind,
                    "occurred_from": datetime.fromtimestamp(start, UTC),
                    "occurred_to": datetime.fromtimestamp(start + span, UTC),
                    "after_id": bases[plan_id],
                    "upto_id": bases[plan_id] + count,
                }
                for n, (plan_id, _, client_id, line_id, kind, start, span, count, *_) in enumerate(
                    (p for p in tables.plan if p[3] is not None), start=1
                )
            ],
        )
    timings["events (INSERT … SELECT)"] = time.perf_counter() - t
    t = time.perf_counter()
    with connection.cursor() as cursor:
        for statement in again:
            cursor.execute(statement)
    timings["event indexes and constraints"] = time.perf_counter() - t
    # The running totals of events per day, as the migration's backfill writes them
    # (the events above were written by SQL, not through ingestion, which keeps them).
    from tally.operations import activity

    t = time.perf_counter()
    activity_days = activity.rebuild()
    timings["daily activity totals (activity.rebuild)"] = time.perf_counter() - t

    if pg:
        from django.apps import apps

        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
                cursor.execute(sql)
    t = time.perf_counter()
    with connection.cursor() as cursor:
        if pg:
            # Without statistics still vacuumed: the visibility map lets index-only scans be.
            cursor.execute("VACUUM" if args.no_analyze else "VACUUM ANALYZE")
        else:
            if not args.no_analyze:
                cursor.execute("ANALYZE")
            cursor.execute("PRAGMA journal_mode = WAL")
    timings[
        ("VACUUM" if pg else "WAL") if args.no_analyze else "VACUUM ANALYZE" if pg else "ANALYZE"
    ] = time.perf_counter() - t
    build_seconds = time.perf_counter() - t_all
    build_cpu = time.process_time() - cpu_all

    problems: dict[str, int] = {}
    if not args.no_check:
        t = time.perf_counter()
        problems = check(pg)
        problems["daily activity totals ≠ a recount of the events"] = len(activity.differences())
        timings["invariant checks (not in the build time)"] = time.perf_counter() - t

    big = specs[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(CASE WHEN status <> 'draft' THEN 1 ELSE 0 END) "
            "FROM invoicing_invoice WHERE client_id = %s",
            [big.id],
        )
        big_invoices, big_visible = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM operations_event WHERE client_id = %s", [big.id])
        big_events = cursor.fetchone()[0]
        cursor.execute("SELECT status, count(*) FROM invoicing_invoice GROUP BY status")
        by_status = dict(cursor.fetchall())
        counts = {}
        for table in (
            "invoicing_invoice",
            "invoicing_invoiceline",
            "operations_event",
            "payments_payment",
            "payments_allocation",
            "invoicing_creditnote",
            "disputes_dispute",
            "disputes_disputemessage",
            "reminders_reminder",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        if not pg:
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            size = pages * cursor.fetchone()[0]
        else:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
        line_id = planner.million["line_id"]
        cursor.execute(
            "SELECT i.number, l.event_count FROM invoicing_invoiceline l "
            "JOIN invoicing_invoice i ON i.id = l.invoice_id WHERE l.id = %s",
            [line_id],
        )
        million_number, million_events = cursor.fetchone()
    manifest = {
        "db": args.db,
        "built_on": time.strftime("%Y-%m-%d %H:%M"),
        "today": today.isoformat(),
        "scale": args.scale,
        "analyzed": not args.no_analyze,
        "clients": Client.objects.count(),
        "counts": {**counts, "operations_dailyactivity": activity_days},
        "invoices_by_status": by_status,
        "database_bytes": size,
        "big_client": {
            "id": big.id,
            "code": big.code,
            "user_email": f"ap@{big.code}.example",
            "invoices": big_invoices,
            "visible_invoices": big_visible,
            "events": big_events,
        },
        "million_line": {
            "line_id": line_id,
            "invoice_number": million_number,
            "events": million_events,
        },
        "build_seconds": round(build_seconds, 1),
        # CPU of this process; on SQLite that is the database's work too, on PostgreSQL not.
        "build_cpu_seconds": round(build_cpu, 1),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "invariant_violations": problems,
        "machine": common.machine(),
    }
    common.manifest_path(args.db).write_text(json.dumps(manifest, indent=2, default=str))
    print(json.dumps(manifest, indent=2, default=str))
    if any(problems.values()):
        raise SystemExit(f"invariants broken: {problems}")


if __name__ == "__main__":
    main()
