"""The data the browser tests click through, built through the product's services.

Acme (the signed-in client) has 32 issued invoices — more than one page of 25 — in every
state a client sees: open, partially paid, overdue, paid, void and disputed (with a
conversation and an operator's internal note). One invoice has a line of 120 events, so
its events page; another bills events with a distinctive order reference. Globex, the
other client, has invoices of its own that must never show up in Acme's browser.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from tally.accounts.models import Role, User
from tally.actions.invoices import issue_invoice, void_invoice
from tally.actions.payments import record_payment
from tally.audit.actors import SystemActor
from tally.clients.models import Client
from tally.disputes.services import open_dispute, post_dispute_message
from tally.internal_notes.services import add_internal_note
from tally.invoicing.models import Invoice
from tally.invoicing.services import generate_draft_invoice
from tests.factories import add_events, make_client, make_user

PASSWORD = "browser-tests-Pa55phrase!"
EMAIL = "ap@acme.example"
INTERNAL_NOTE = "INTERNAL-ONLY: goodwill credit up to $25 is fine, do not tell the client"
OPERATOR_REPLY = "We are checking the carrier manifests for those days."
DISPUTE_REASON = "Labels billed for orders we cancelled before shipping."
ORDER_REFERENCE = "ORD-77311"  # the events of one invoice carry references REF-ORD-77311-<n>
INVOICES = 32
BIG_LINE_EVENTS = 120


def number(invoice: Invoice) -> str:
    return f"INV-{invoice.number:06d}"


@dataclass
class Scenario:
    today: date
    acme: Client
    globex: Client
    user: User
    operator: User
    invoices: list[Invoice]  # Acme's, index i issued i*9+1 days ago
    roles: dict[str, Invoice]  # the invoices each test reaches for, by role
    expected_status: dict[str, str]  # number → the status the client should see
    globex_numbers: list[str] = field(default_factory=list)

    def n(self, role: str) -> str:
        return number(self.roles[role])

    def numbers_with_status(self, status: str) -> set[str]:
        return {n for n, s in self.expected_status.items() if s == status}


def _invoice(client: Client, day: date, issue_date: date, **events: int) -> Invoice:
    """Bill one day of events on an invoice issued on `issue_date`."""
    prefix = events.pop("prefix", None)
    for kind, count in events.items():
        if count:
            kw = {"prefix": f"{prefix}" if prefix and kind == "pick" else None}
            add_events(client, kind, count, day=day, **kw)
    draft = generate_draft_invoice(
        actor=SystemActor.TESTS, client=client, period_start=day, period_end=day
    ).invoice
    return issue_invoice(
        actor=SystemActor.TESTS, client=client, invoice_id=draft.pk, issue_date=issue_date
    )


def _pay(client: Client, invoice: Invoice, amount: int, received_on: date) -> None:
    record_payment(
        actor=SystemActor.TESTS,
        client=client,
        amount_minor=amount,
        currency=client.currency,
        received_on=received_on,
        method="ach",
        idempotency_key=f"bank-{invoice.pk}-{amount}",
        reference=f"ACH-{invoice.pk:06d}",
        payer=f"{client.name} AP",
        allocations=[(invoice.pk, amount)],
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
            pick=picks,
            label=(10 + i) if i % 2 == 0 else 0,
            prefix=ORDER_REFERENCE if i == 3 else None,
        )
        invoices.append(inv)
        overdue = inv.due_date < today
        status[number(inv)] = "overdue" if overdue else "open"

    roles = {
        "open": invoices[0],  # not yet due: the one the dispute test disputes
        "partial": invoices[1],  # not yet due, half paid
        "big": invoices[2],  # a line of 120 events
        "reference": invoices[3],  # its picks carry ORD-77311 references
        "disputed": invoices[4],  # overdue and disputed
        "void": invoices[5],
        "paid": invoices[6],
        "overdue_partial": invoices[7],  # overdue, part paid: still shows as overdue
    }
    half = roles["partial"].total_minor // 2
    _pay(acme, roles["partial"], half, today - timedelta(days=1))
    status[number(roles["partial"])] = "partially_paid"
    _pay(acme, roles["overdue_partial"], 100, today - timedelta(days=20))
    for i in range(6, INVOICES, 2):  # every other older invoice is paid in full
        inv = invoices[i]
        inv.refresh_from_db()
        _pay(acme, inv, inv.balance_minor, inv.issue_date + timedelta(days=12))
        status[number(inv)] = "paid"

    void_invoice(
        actor=operator,
        client=acme,
        invoice_id=roles["void"].pk,
        reason="Billed at the wrong rate; replaced by a corrected invoice.",
    )
    status[number(roles["void"])] = "void"

    disputed = roles["disputed"]
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
    status[number(disputed)] = "disputed"

    globex_numbers = []
    for i in range(3):
        issue = today - timedelta(days=9 * i + 3)
        inv = _invoice(
            globex, issue - timedelta(days=4), issue, pick=7 + i, prefix=f"{ORDER_REFERENCE}-GX{i}"
        )
        globex_numbers.append(number(inv))
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
