"""Random sequences of billing operations; after every step the invariants of DESIGN.md hold.

generate, issue, pay (partial, over, retried), credit (also after payment), take a payment
back and put it elsewhere, refund unapplied credit, dispute, resolve, void — in any order,
with amounts that are often wrong. Refused operations must leave nothing behind.
"""

from datetime import date, timedelta

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tally.accounts.models import Role
from tally.actions.disputes import resolve_dispute
from tally.actions.invoices import create_credit_note, issue_invoice, void_invoice
from tally.actions.payments import reallocate_payment, record_payment, refund_credit
from tally.disputes.models import Dispute, DisputeStatus
from tally.disputes.services import open_dispute
from tally.errors import DomainError
from tally.invoicing.models import BilledRange, CreditNote, Invoice, InvoiceStatus
from tally.invoicing.services import generate_draft_invoice
from tally.money import line_amount, tax_amount
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tally.payments.models import Allocation, Payment, Refund
from tally.portal.queries import statement
from tally.reminders.models import Reminder, ReminderStatus
from tests.factories import assert_lines_total_their_events, make_client, make_user

PRICES = {"pick": "0.3333", "label": "0.0450", "stop": "12.5000", "storage_day": "0.8125"}
KINDS = sorted(PRICES)


class BillingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.events_sent = 0
        self.month = 0
        self.keys: dict[
            str, tuple[int, object, int]
        ] = {}  # key → (amount, allocations, payment id)

    @initialize(tax=st.sampled_from([None, 0, 825, 2000]))
    def setup(self, tax):
        self.client = make_client("prop", tax_rate_bp=tax, prices=PRICES)
        self.operator = make_user()
        self.client_user = make_user(role=Role.CLIENT_USER, client=self.client)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # -- helpers -------------------------------------------------------------------------
    def _invoices(self, *statuses):
        return list(Invoice.objects.filter(client=self.client, status__in=statuses).order_by("pk"))

    def _refused(self, fn, **kw):
        """A refused operation writes nothing: compare a fingerprint before and after."""
        before = self._fingerprint()
        try:
            fn(**kw)
        except DomainError:
            assert self._fingerprint() == before
            return True
        return False

    def _fingerprint(self):
        return (
            list(
                Invoice.objects.order_by("pk").values_list(
                    "status", "allocated_minor", "credited_minor"
                )
            ),
            Allocation.objects.count(),
            CreditNote.objects.count(),
            list(Payment.objects.order_by("pk").values_list("allocated_minor", "refunded_minor")),
            Refund.objects.count(),
            BilledRange.objects.exclude(invoice__status=InvoiceStatus.VOID).count(),
            list(Dispute.objects.order_by("pk").values_list("status", "credit_note")),
        )

    # -- rules ---------------------------------------------------------------------------
    @rule(
        counts=st.lists(st.integers(min_value=0, max_value=6), min_size=4, max_size=4),
        quantity=st.integers(min_value=1, max_value=500),
    )
    def generate(self, counts, quantity):
        start = date(2026, 1, 1) + timedelta(days=31 * (self.month % 10))
        self.month += 1
        rows = []
        for kind, n in zip(KINDS, counts, strict=True):
            for _ in range(n):
                self.events_sent += 1
                rows.append(
                    {
                        "kind": kind,
                        "occurred_at": f"{start.isoformat()}T10:00:00Z",
                        "quantity": quantity,
                        "external_id": f"e{self.events_sent}",
                    }
                )
        if rows:
            ingest_events(actor=self.operator, client=self.client, rows=rows)
            # Retried delivery of the same batch stores nothing new.
            assert ingest_events(actor=self.operator, client=self.client, rows=rows).created == 0
        generate_draft_invoice(
            actor=self.operator,
            client=self.client,
            period_start=start,
            period_end=start + timedelta(days=27),
        )

    @rule(data=st.data())
    def issue(self, data):
        drafts = self._invoices(InvoiceStatus.DRAFT)
        if drafts:
            inv = data.draw(st.sampled_from(drafts))
            credit = self._unapplied()
            issued = issue_invoice(
                actor=self.operator,
                client=self.client,
                invoice_id=inv.pk,
                issue_date=date(2026, 12, 1),
            )
            # Credit left over pays the new invoice, as far as it goes.
            applied = min(credit, issued.total_minor)
            assert issued.allocated_minor == applied
            assert self._unapplied() == credit - applied

    @rule(
        amount=st.integers(min_value=1, max_value=200_000),
        key=st.integers(min_value=0, max_value=8),
        explicit=st.booleans(),
        data=st.data(),
    )
    def pay(self, amount, key, explicit, data):
        key_s = f"k{key}"
        open_invoices = self._invoices(InvoiceStatus.OPEN)
        allocations = None
        if explicit and open_invoices:
            inv = data.draw(st.sampled_from(open_invoices))
            allocations = [
                (
                    inv.pk,
                    data.draw(st.integers(min_value=1, max_value=max(1, inv.balance_minor + 5))),
                )
            ]
        kw = dict(
            actor=self.operator,
            client=self.client,
            amount_minor=amount,
            currency="USD",
            received_on=date(2026, 12, 5),
            method="wire",
            idempotency_key=key_s,
            allocations=allocations,
        )
        if key_s in self.keys and self.keys[key_s][:2] != (amount, allocations):
            # The same key with a different body is refused.
            assert self._refused(record_payment, **kw)
            return
        try:
            with transaction.atomic():
                result = record_payment(**kw)
        except DomainError as e:
            assert e.code == "invalid_allocation"
            return
        if key_s in self.keys:
            # A retry answers with the first payment, whatever happened since.
            assert result.replayed and result.payment.pk == self.keys[key_s][2]
        else:
            assert not result.replayed
            self.keys[key_s] = (amount, allocations, result.payment.pk)

    @rule(data=st.data(), extra=st.integers(min_value=-3, max_value=3))
    def credit(self, data, extra):
        creditable = self._invoices(InvoiceStatus.OPEN, InvoiceStatus.PAID)
        if not creditable:
            return
        inv = data.draw(st.sampled_from(creditable))
        left = inv.total_minor - inv.credited_minor
        amount = data.draw(st.integers(min_value=1, max_value=max(1, left))) + max(extra, 0)
        kw = dict(
            actor=self.operator,
            client=self.client,
            invoice_id=inv.pk,
            amount_minor=amount,
            reason="Goodwill",
        )
        if amount > left:
            assert self._refused(create_credit_note, **kw)
        else:
            # Beyond what it owes, the credit takes the difference back from its payments:
            # the client's unapplied credit grows by exactly that.
            unapplied = self._unapplied()
            create_credit_note(**kw)
            assert self._unapplied() == unapplied + max(0, amount - inv.balance_minor)

    @rule(data=st.data(), share=st.integers(min_value=1, max_value=120), move=st.booleans())
    def reallocate(self, data, share, move):
        allocations = list(Allocation.objects.filter(client=self.client).order_by("pk"))
        if not allocations:
            return
        a = data.draw(st.sampled_from(allocations))
        amount = max(1, a.amount_minor * share // 100)
        targets = [i for i in self._invoices(InvoiceStatus.OPEN) if i.pk != a.invoice_id]
        onto = None
        if move and targets:
            target = data.draw(st.sampled_from(targets))
            onto = [(target.pk, min(amount, target.balance_minor))]
        kw = dict(
            actor=self.operator,
            client=self.client,
            payment_id=a.payment_id,
            releases=[(a.invoice_id, amount)],
            allocations=onto,
        )
        if amount > a.amount_minor:
            assert self._refused(reallocate_payment, **kw)
            return
        unapplied = self._unapplied()
        reallocate_payment(**kw)
        moved = onto[0][1] if onto else 0
        assert self._unapplied() == unapplied + amount - moved

    @rule(data=st.data(), extra=st.integers(min_value=-2, max_value=2))
    def refund(self, data, extra):
        payments = list(Payment.objects.filter(client=self.client).order_by("pk"))
        if not payments:
            return
        p = data.draw(st.sampled_from(payments))
        amount = p.unapplied_minor + extra
        kw = dict(
            actor=self.operator,
            client=self.client,
            payment_id=p.pk,
            amount_minor=amount,
            refunded_on=date(2026, 12, 9),
            method="wire",
        )
        if not 0 < amount <= p.unapplied_minor:
            assert self._refused(refund_credit, **kw)
        else:
            refund_credit(**kw)
            p.refresh_from_db()
            assert p.unapplied_minor == -extra

    @rule(data=st.data())
    def void(self, data):
        candidates = self._invoices(InvoiceStatus.DRAFT, InvoiceStatus.OPEN)
        if not candidates:
            return
        inv = data.draw(st.sampled_from(candidates))
        kw = dict(actor=self.operator, client=self.client, invoice_id=inv.pk, reason="Re-rate")
        if inv.allocated_minor or inv.credited_minor:
            assert self._refused(void_invoice, **kw)
        else:
            with transaction.atomic():
                try:
                    void_invoice(**kw)
                except DomainError as e:
                    assert e.code == "invoice_disputed"
                    assert Dispute.objects.filter(invoice=inv, status=DisputeStatus.OPEN).exists()

    @rule(data=st.data(), amount=st.integers(min_value=1, max_value=50_000))
    def dispute(self, data, amount):
        candidates = self._invoices(InvoiceStatus.OPEN, InvoiceStatus.PAID)
        if not candidates:
            return
        inv = data.draw(st.sampled_from(candidates))
        kw = dict(
            actor=self.client_user,
            client=self.client,
            invoice_id=inv.pk,
            amount_minor=amount,
            reason="These picks look doubled",
        )
        already = Dispute.objects.filter(invoice=inv, status=DisputeStatus.OPEN).exists()
        if already or amount > inv.total_minor:
            assert self._refused(open_dispute, **kw)
        else:
            open_dispute(**kw)

    @rule(
        data=st.data(),
        outcome=st.sampled_from(["credited", "upheld", "withdrawn"]),
        share=st.integers(min_value=1, max_value=100),
    )
    def resolve(self, data, outcome, share):
        disputes = list(
            Dispute.objects.filter(client=self.client, status=DisputeStatus.OPEN).order_by("pk")
        )
        if not disputes:
            return
        d = data.draw(st.sampled_from(disputes))
        inv = Invoice.objects.get(pk=d.invoice_id)
        left = inv.total_minor - inv.credited_minor
        credit = max(1, left * share // 100) if outcome == "credited" else None
        kw = dict(
            actor=self.operator,
            client=self.client,
            dispute_id=d.pk,
            resolution=outcome,
            summary="Settled",
            credit_amount_minor=credit,
        )
        if outcome == "credited" and (
            inv.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID) or credit > left
        ):
            assert self._refused(resolve_dispute, **kw)
        else:
            resolve_dispute(**kw)
            assert Dispute.objects.get(pk=d.pk).status == DisputeStatus.RESOLVED

    def _unapplied(self):
        return sum(Payment.objects.values_list("unapplied_minor", flat=True))

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def money_adds_up_on_every_invoice(self):
        if not hasattr(self, "client"):
            return
        allocs = dict(
            Allocation.objects.values("invoice")
            .annotate(s=Sum("amount_minor"))
            .values_list("invoice", "s")
        )
        credits = dict(
            CreditNote.objects.values("invoice")
            .annotate(s=Sum("amount_minor"))
            .values_list("invoice", "s")
        )
        for inv in Invoice.objects.filter(client=self.client):
            lines = list(inv.lines.all())
            subtotal = sum(ln.amount_minor for ln in lines)
            for ln in lines:
                assert ln.amount_minor == line_amount(ln.quantity, ln.unit_price_micros, "USD")
            tax = tax_amount(subtotal, inv.tax_rate_bp) if subtotal > 0 else 0
            assert inv.total_minor == subtotal + tax
            assert inv.allocated_minor == allocs.get(inv.pk, 0)
            assert inv.credited_minor == credits.get(inv.pk, 0)
            owed = inv.total_minor - inv.allocated_minor - inv.credited_minor
            assert owed >= 0
            assert inv.balance_minor == (0 if inv.status == InvoiceStatus.VOID else owed)
            if inv.status == InvoiceStatus.OPEN:
                assert inv.balance_minor > 0
            if inv.status == InvoiceStatus.PAID:
                assert inv.balance_minor == 0
            if inv.status == InvoiceStatus.DRAFT:
                assert inv.allocated_minor == inv.credited_minor == 0

    @invariant()
    def payments_never_allocate_more_than_their_amount(self):
        allocs = dict(
            Allocation.objects.values("payment")
            .annotate(s=Sum("amount_minor"))
            .values_list("payment", "s")
        )
        refunds = dict(
            Refund.objects.values("payment")
            .annotate(s=Sum("amount_minor"))
            .values_list("payment", "s")
        )
        for p in Payment.objects.all():
            assert p.allocated_minor == allocs.get(p.pk, 0) <= p.amount_minor
            assert p.refunded_minor == refunds.get(p.pk, 0)
            # Every unit received is on an invoice, refunded, or the client's credit.
            assert p.unapplied_minor == p.amount_minor - p.allocated_minor - p.refunded_minor >= 0

    @invariant()
    def settled_invoices_have_no_reminder_to_come(self):
        assert not Reminder.objects.filter(
            status=ReminderStatus.SCHEDULED,
            invoice__status__in=[InvoiceStatus.PAID, InvoiceStatus.VOID],
        ).exists()

    @invariant()
    def every_billed_event_is_on_one_line_of_a_live_invoice(self):
        assert_lines_total_their_events()
        assert Event.objects.count() == self.events_sent

    @invariant()
    def a_credited_dispute_holds_its_credit_note_and_open_ones_have_none(self):
        for d in Dispute.objects.all():
            assert (d.resolution == "credited") == (d.credit_note_id is not None)
            assert (d.status == DisputeStatus.OPEN) == (d.resolution == "")

    @invariant()
    def the_statement_adds_up_and_closes_at_what_is_owed(self):
        """Opening balance plus every movement is the closing balance, which is what the
        invoices still owe less the unapplied credit; a range's opening is the closing of
        the day before it."""
        if not hasattr(self, "client"):
            return
        whole = statement(self.client.pk, date(2026, 11, 1), date(2026, 12, 31))
        (section,) = whole.currencies
        assert section.opening_minor == 0
        running = [e.balance_minor for e in section.entries]
        amounts = [e.amount_minor for e in section.entries]
        assert running == [sum(amounts[: i + 1]) for i in range(len(amounts))]
        # What the billing page calls outstanding: the open invoices' balances (a draft's
        # is its total, owed by nobody yet).
        owed = sum(i.balance_minor for i in self._invoices(InvoiceStatus.OPEN))
        assert section.closing_minor == owed - self._unapplied()
        first = statement(self.client.pk, date(2026, 11, 1), date(2026, 12, 4))
        rest = statement(self.client.pk, date(2026, 12, 5), date(2026, 12, 31))
        assert first.currencies[0].closing_minor == rest.currencies[0].opening_minor
        assert rest.currencies[0].closing_minor == section.closing_minor

    @invariant()
    def invoice_numbers_are_gapless_and_never_reused(self):
        numbers = sorted(
            Invoice.objects.exclude(number__isnull=True).values_list("number", flat=True)
        )
        if numbers:
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


@pytest.mark.django_db
def test_billing_invariants_hold_under_random_operations():
    BillingMachine.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    BillingMachine.TestCase().runTest()
