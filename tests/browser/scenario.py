"""The data the browser tests click through, built through the product's services.

Acme (the signed-in client) has 32 issued invoices — more than one page of 25 — in every
state a client sees: open, partially paid, overdue, paid, void and disputed (with a
conversation and an operator's internal note). One invoice has a line of 120 events, so
its events page; another bills events with a distinctive order reference. Globex, the
other client, has invoices of its own that must never show up in Acme's browser.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from tally.accounts.models import Role, User
from tally.actions.invoices import void_invoice
from tally.clients.models import Client
from tally.disputes.services import open_dispute, post_dispute_message
from tally.internal_notes.services import add_internal_note
from tally.invoicing.models import Invoice
from tests.factories import issued_invoice, make_client, make_user, pay

PASSWORD = "browser-tests-Pa55phrase!"
EMAIL = "ap@acme.example"
INTERNAL_NOTE = "INTERNAL-ONLY: goodwill credit up to $25 is fine, do not tell the client"
OPERATOR_REPLY = "We are checking the carrier manifests for those days."
DISPUTE_REASON = "Labels billed for orders we cancelled before shipping."
ORDER_REFERENCE = "ORD-77311"  # the events of one invoice carry references REF-ORD-77311-<n>
INVOICES = 32
BIG_LINE_EVENTS = 120


@dataclass
class Roles:
    """The invoices of Acme's that tests reach for, by what makes each one of interest."""

    open: Invoice  # not yet due: the one the dispute test disputes
    partial: Invoice  # not yet due, half paid
    big: Invoice  # a line of 120 events
    reference: Invoice  # its picks carry ORD-77311 references
    disputed: Invoice  # overdue and disputed
    void: Invoice
    paid: Invoice
    overdue_partial: Invoice  # overdue, part paid: still shows as overdue


@dataclass
class Scenario:
    today: date
    acme: Client
    globex: Client
    user: User
    operator: User
    invoices: list[Invoice]  # Acme's, index i issued i*9+1 days ago
    roles: Roles
    expected_status: dict[str, str]  # number → the status the client should see
    globex_numbers: list[str] = field(default_factory=list)

    def numbers_with_status(self, status: str) -> set[str]:
        return {n for n, s in self.expected_status.items() if s == status}


def _invoice(client: Client, day: date, issue_date: date, **kw: Any) -> Invoice:
    """Bill one day of events on an invoice issued on `issue_date`."""
    return issued_invoice(client, period=(day, day), day=day, issue_date=issue_date, **kw)


def _pay(client: Client, invoice: Invoice, amount: int, received_on: date) -> None:
    pay(
        client,
        amount,
        invoice=invoice,
        received_on=received_on,
        reference=f"ACH-{invoice.pk:06d}",
        payer=f"{client.name} AP",
    )


def build() -> Scenario:
    """Build the scenario in one transaction: one commit instead of hundreds (PostgreSQL
    pays for each), and nothing is visible to the live server until all of it is there."""
    with transaction.atomic():
        return _build()


def _build() -> Scenario:
    today = timezone.now().date()  # the portal's today for a client in UTC
    rates_from = today - timedelta(days=400)
    acme = make_client("acme", rates_from=rates_from)
    globex = make_client("globex", rates_from=rates_from)
    # The operator never signs in here: no password, which also spares a slow Argon2 hash.
    operator = User.objects.create_user("ops@northwind.example", None, role=Role.OPERATOR)
    user = make_user(role=Role.CLIENT_USER, client=acme, email=EMAIL, password=PASSWORD)

    invoices: list[Invoice] = []
    status: dict[str, str] = {}
    for i in range(INVOICES):
        issue = today - timedelta(days=9 * i + 1)
        day = issue - timedelta(days=5)
        picks = BIG_LINE_EVENTS if i == 2 else 4 + 3 * i
        inv = _invoice(
            acme,
            day,
            issue,
            picks=picks,
            labels=(10 + i) if i % 2 == 0 else 0,
            pick_prefix=ORDER_REFERENCE if i == 3 else None,
        )
        invoices.append(inv)
        overdue = inv.due_date < today
        status[inv.display_number] = "overdue" if overdue else "open"

    roles = Roles(
        open=invoices[0],
        partial=invoices[1],
        big=invoices[2],
        reference=invoices[3],
        disputed=invoices[4],
        void=invoices[5],
        paid=invoices[6],
        overdue_partial=invoices[7],
    )
    half = roles.partial.total_minor // 2
    _pay(acme, roles.partial, half, today - timedelta(days=1))
    status[roles.partial.display_number] = "partially_paid"
    _pay(acme, roles.overdue_partial, 100, today - timedelta(days=20))
    for i in range(6, INVOICES, 2):  # every other older invoice is paid in full
        inv = invoices[i]
        inv.refresh_from_db()
        _pay(acme, inv, inv.balance_minor, inv.issue_date + timedelta(days=12))
        status[inv.display_number] = "paid"

    void_invoice(
        actor=operator,
        client=acme,
        invoice_id=roles.void.pk,
        reason="Billed at the wrong rate; replaced by a corrected invoice.",
    )
    status[roles.void.display_number] = "void"

    disputed = roles.disputed
    label_line = disputed.lines.get(kind="label")
    dispute = open_dispute(
        actor=user,
        client=acme,
        invoice_id=disputed.pk,
        reason=DISPUTE_REASON,
        amount_minor=label_line.amount_minor,
        line_ids=[label_line.pk],
    )
    post_dispute_message(actor=operator, client=acme, dispute_id=dispute.pk, body=OPERATOR_REPLY)
    add_internal_note(actor=operator, dispute_id=dispute.pk, body=INTERNAL_NOTE)
    status[disputed.display_number] = "disputed"

    globex_numbers = []
    for i in range(3):
        issue = today - timedelta(days=9 * i + 3)
        inv = _invoice(
            globex,
            issue - timedelta(days=4),
            issue,
            picks=7 + i,
            pick_prefix=f"{ORDER_REFERENCE}-GX{i}",
        )
        globex_numbers.append(inv.display_number)
    gx_dispute = open_dispute(
        actor=operator,
        client=globex,
        invoice_id=Invoice.objects.filter(client=globex).order_by("number").first().pk,
        reason="Globex-only dispute text",
    )
    add_internal_note(actor=operator, dispute_id=gx_dispute.pk, body=INTERNAL_NOTE + " (globex)")

    for inv in invoices:
        inv.refresh_from_db()
    return Scenario(
        today=today,
        acme=acme,
        globex=globex,
        user=user,
        operator=operator,
        invoices=invoices,
        roles=roles,
        expected_status=status,
        globex_numbers=globex_numbers,
    )
