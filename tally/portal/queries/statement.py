"""A statement of account: what the client owed at the start of a range of days, every
invoice, payment, credit note, refund and void in it with the balance after each, and
what it owed at its end — per currency, for a client billed in more than one.

What the client owes the account is what its issued invoices billed, less what it paid,
less credit notes, plus unapplied credit refunded to it, less what void invoices had
billed. So the closing balance on a day is the table's total outstanding (the balances
of its invoices) less its unapplied credit, in each currency
(tests/portal/test_statement.py and the billing machine hold the two together).

A movement's day is the client's: an invoice's issue date, a payment's day received, a
refund's day paid, and for a credit note or a void (instants) the day it was made in
the client's time zone. Within a day: invoices, voids, credit notes, payments, refunds,
each in the order it was made.

Set-based: one aggregate per kind of movement for the opening and closing balances and
one read per kind for the range, whatever the number of rows. A range is at most
`MAX_DAYS` long, which bounds a statement's rows (the largest benchmark client, invoiced
weekly at twenty sites, has some 1,500 movements a year).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce

from tally.clients.models import Client
from tally.errors import NotFound
from tally.invoicing.models import (
    CreditNote,
    Invoice,
    InvoiceStatus,
)
from tally.invoicing.naming import format_credit_note_number, format_invoice_number
from tally.payments.models import Payment, Refund, method_label

from ..scope import client_scope
from .common import _tables

MAX_DAYS = 366

# Each kind of movement: its label, and its place among a day's movements.
INVOICE, VOID, CREDIT_NOTE, PAYMENT, REFUND = "invoice", "void", "credit_note", "payment", "refund"
ENTRY_KINDS = (INVOICE, VOID, CREDIT_NOTE, PAYMENT, REFUND)
ENTRY_LABELS = {
    INVOICE: "Invoice",
    VOID: "Invoice voided",
    CREDIT_NOTE: "Credit note",
    PAYMENT: "Payment received",
    REFUND: "Refund of credit",
}


@dataclass(frozen=True)
class StatementEntry:
    day: date
    kind: str  # one of ENTRY_KINDS
    document: str  # INV-000123, CN-000045, or a payment's or refund's reference
    amount_minor: int  # what it adds to what is owed: positive charges, negative credits
    balance_minor: int  # what was owed after it
    invoice_number: str = ""  # the invoice it concerns (an invoice, void or credit note)
    detail: str = ""  # a payment's method, a credit note's or void's reason
    due_date: date | None = None  # an invoice's
    payment_id: int | None = None  # a payment's (for its receipt)

    @property
    def label(self) -> str:
        return ENTRY_LABELS[self.kind]

    @property
    def charge_minor(self) -> int | None:
        return self.amount_minor if self.amount_minor > 0 else None

    @property
    def credit_minor(self) -> int | None:
        return -self.amount_minor if self.amount_minor < 0 else None


@dataclass(frozen=True)
class CurrencyStatement:
    currency: str
    opening_minor: int  # owed at the end of the day before the range
    entries: list[StatementEntry]
    closing_minor: int  # owed at the end of the range's last day

    @property
    def charges_minor(self) -> int:
        return sum(e.amount_minor for e in self.entries if e.amount_minor > 0)

    @property
    def credits_minor(self) -> int:
        return -sum(e.amount_minor for e in self.entries if e.amount_minor < 0)


@dataclass(frozen=True)
class Statement:
    start: date
    end: date  # inclusive
    time_zone: str
    currencies: list[CurrencyStatement]  # the client's own currency first, then A–Z


def statement(client_id: int, start: date, end: date) -> Statement:
    """The client's statement of account for the days `start`..`end` (inclusive)."""
    if end < start:
        raise ValueError("a statement's range ends on or after its start")
    if (end - start).days >= MAX_DAYS:
        raise ValueError(f"a statement covers at most {MAX_DAYS} days")
    with client_scope(client_id, _tables(Client, Invoice, CreditNote, Payment, Refund)):
        found = Client.objects.filter(pk=client_id).values_list("currency", "time_zone").first()
        if found is None:
            raise NotFound("client")
        own_currency, time_zone = found
        zone = ZoneInfo(time_zone)
        # The range as instants, for what is dated by an instant: [from_at, to_at).
        from_at = datetime.combine(start, time.min, zone)
        to_at = datetime.combine(end + timedelta(days=1), time.min, zone)
        balances = _balances(client_id, start, end, from_at, to_at)
        rows = _movements(client_id, start, end, from_at, to_at, zone)
    by_currency: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = defaultdict(list)
    for currency, order, entry in rows:
        by_currency[currency].append((order, entry))
    currencies = sorted(
        set(balances) | set(by_currency) or {own_currency}, key=lambda c: (c != own_currency, c)
    )
    statements = []
    for currency in currencies:
        opening, closing = balances.get(currency, (0, 0))
        running = opening
        entries = []
        for _, entry in sorted(by_currency[currency], key=lambda row: row[0]):
            running += entry["amount_minor"]
            entries.append(StatementEntry(**entry, balance_minor=running))
        statements.append(CurrencyStatement(currency, opening, entries, closing))
    return Statement(start, end, time_zone, statements)


def _balances(
    client_id: int, start: date, end: date, from_at: datetime, to_at: datetime
) -> dict[str, tuple[int, int]]:
    """Per currency: what was owed at the end of the day before `start`, and at the end of
    `end`, each summed from the movements up to then (not from the entries in between)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(rows: Any, sign: int) -> None:
        for currency, before, upto in rows:
            totals[currency][0] += sign * before
            totals[currency][1] += sign * upto

    def sums(qs: Any, currency: str, amount: str, before: Q, upto: Q) -> Any:
        return (
            qs.values(currency)
            .order_by()
            .annotate(
                before=Coalesce(Sum(amount, filter=before), 0),
                upto=Coalesce(Sum(amount, filter=upto), 0),
            )
            .values_list(currency, "before", "upto")
        )

    invoices = Invoice.objects.filter(client_id=client_id).issued()
    add(
        sums(invoices, "currency", "total_minor", Q(issue_date__lt=start), Q(issue_date__lte=end)),
        +1,
    )
    add(
        sums(
            invoices.filter(status=InvoiceStatus.VOID, voided_at__isnull=False),
            "currency",
            "total_minor",
            Q(voided_at__lt=from_at),
            Q(voided_at__lt=to_at),
        ),
        -1,
    )
    add(
        sums(
            CreditNote.objects.filter(client_id=client_id),
            "invoice__currency",
            "amount_minor",
            Q(created_at__lt=from_at),
            Q(created_at__lt=to_at),
        ),
        -1,
    )
    add(
        sums(
            Payment.objects.filter(client_id=client_id),
            "currency",
            "amount_minor",
            Q(received_on__lt=start),
            Q(received_on__lte=end),
        ),
        -1,
    )
    add(
        sums(
            Refund.objects.filter(client_id=client_id),
            "currency",
            "amount_minor",
            Q(refunded_on__lt=start),
            Q(refunded_on__lte=end),
        ),
        +1,
    )
    return {currency: (before, upto) for currency, (before, upto) in totals.items()}


def _movements(
    client_id: int, start: date, end: date, from_at: datetime, to_at: datetime, zone: ZoneInfo
) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """Every movement of the range: its currency, its place in the statement's order, and
    the fields of its entry (all but the running balance)."""
    place = {kind: i for i, kind in enumerate(ENTRY_KINDS)}
    rows: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def add(currency: str, day: date, kind: str, order: Any, **entry: Any) -> None:
        rows.append((currency, (day, place[kind], order), {"day": day, "kind": kind, **entry}))

    invoices = Invoice.objects.filter(client_id=client_id).issued()
    for currency, day, number, due, total, pk in invoices.filter(
        issue_date__gte=start, issue_date__lte=end
    ).values_list("currency", "issue_date", "number", "due_date", "total_minor", "id"):
        printed = format_invoice_number(number)
        add(currency, day, INVOICE, pk, document=printed, invoice_number=printed, due_date=due,
            amount_minor=total)  # fmt: skip
    for currency, at, number, reason, total, pk in invoices.filter(
        status=InvoiceStatus.VOID, voided_at__gte=from_at, voided_at__lt=to_at
    ).values_list("currency", "voided_at", "number", "void_reason", "total_minor", "id"):
        printed = format_invoice_number(number)
        add(currency, at.astimezone(zone).date(), VOID, (at, pk), document=printed,
            invoice_number=printed, detail=reason, amount_minor=-total)  # fmt: skip
    credit_notes = (
        CreditNote.objects.filter(
            client_id=client_id, created_at__gte=from_at, created_at__lt=to_at
        )
        .annotate(currency=F("invoice__currency"), invoice_no=F("invoice__number"))
        .values_list(
            "currency", "created_at", "number", "invoice_no", "reason", "amount_minor", "id"
        )
    )
    for currency, at, number, invoice_number, reason, amount, pk in credit_notes:
        add(currency, at.astimezone(zone).date(), CREDIT_NOTE, (at, pk),
            document=format_credit_note_number(number),
            invoice_number=format_invoice_number(invoice_number), detail=reason,
            amount_minor=-amount)  # fmt: skip
    for currency, day, method, reference, amount, pk in Payment.objects.filter(
        client_id=client_id, received_on__gte=start, received_on__lte=end
    ).values_list("currency", "received_on", "method", "reference", "amount_minor", "id"):
        add(currency, day, PAYMENT, pk, document=reference, detail=method_label(method),
            amount_minor=-amount, payment_id=pk)  # fmt: skip
    for currency, day, method, reference, amount, pk in Refund.objects.filter(
        client_id=client_id, refunded_on__gte=start, refunded_on__lte=end
    ).values_list("currency", "refunded_on", "method", "reference", "amount_minor", "id"):
        add(currency, day, REFUND, pk, document=reference, detail=method_label(method),
            amount_minor=amount)  # fmt: skip
    return rows
