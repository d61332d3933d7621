"""What an invoice owed at the end of a day (`owed_at_end_of`, behind every aging figure
of the portal and the console) equals its definition worked out row by row: its total
less the payments received and the credits issued by then, for the invoices issued by
then and not voided by then. The query takes a short cut (an invoice nothing happened to
since owes its stored balance); random histories hold it to the long way."""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally.actions.invoices import void_invoice
from tally.audit.actors import SystemActor
from tally.invoicing.models import CreditNote, Invoice
from tally.invoicing.services import create_credit_note
from tally.payments.aging import owed_at_end_of
from tally.payments.models import Allocation
from tests.factories import issued_invoice, make_client, pay

pytestmark = pytest.mark.django_db

NOV_1 = date(2026, 11, 1)
# Days from Nov 1 (Nov 1 .. Dec 2), few so that events fall on and beside the days asked.
DAYS = st.sampled_from([0, 1, 14, 15, 16, 30, 31])

# One event in an invoice's life: (kind, invoice index, day offset from Nov 1, share in %).
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["pay", "credit", "void"]),
        st.integers(min_value=0, max_value=3),
        DAYS,
        st.sampled_from([10, 50, 100]),
    ),
    max_size=10,
)


def _by_definition(as_of: date) -> dict[int, int]:
    owed = {}
    for invoice in Invoice.objects.filter(number__isnull=False):
        if invoice.issue_date > as_of:
            continue
        if invoice.voided_at and timezone.localdate(invoice.voided_at) <= as_of:
            continue
        paid = sum(
            a.amount_minor
            for a in Allocation.objects.filter(invoice=invoice).select_related("payment")
            if a.payment.received_on <= as_of
        )
        credited = sum(
            c.amount_minor
            for c in CreditNote.objects.filter(invoice=invoice)
            if timezone.localdate(c.created_at) <= as_of
        )
        if invoice.total_minor - paid - credited > 0:
            owed[invoice.pk] = invoice.total_minor - paid - credited
    return owed


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    issued_on=st.lists(DAYS, min_size=1, max_size=4),
    events=EVENTS,
    days=st.lists(DAYS, min_size=1, max_size=4),
)
def test_what_was_owed_on_a_day_is_its_definition(db, issued_on, events, days):
    actor = SystemActor.TESTS
    with transaction.atomic():
        client = make_client("histories")
        invoices = [
            issued_invoice(client, picks=5 + i, issue_date=NOV_1 + timedelta(days=d))
            for i, d in enumerate(issued_on)
        ]
        for kind, index, day, share in events:
            invoice = Invoice.objects.get(pk=invoices[index % len(invoices)].pk)
            on = max(NOV_1 + timedelta(days=day), invoice.issue_date)
            amount = max(1, invoice.balance_minor * share // 100)
            if invoice.status == "void" or invoice.balance_minor == 0:
                continue
            if kind == "pay":
                pay(client, amount, invoice=invoice, received_on=on)
            elif kind == "credit":
                note = create_credit_note(
                    actor=actor,
                    client=client,
                    invoice_id=invoice.pk,
                    amount_minor=amount,
                    reason="Damaged in the warehouse",
                )
                at = datetime.combine(on, time(23, 30), tzinfo=UTC)  # late: a day's edge
                CreditNote.objects.filter(pk=note.pk).update(created_at=at)
            elif invoice.allocated_minor == 0 and invoice.credited_minor == 0:
                void_invoice(actor=actor, client=client, invoice_id=invoice.pk, reason="Wrong")
                at = datetime.combine(on, time(0, 30), tzinfo=UTC)
                Invoice.objects.filter(pk=invoice.pk).update(voided_at=at)
        for day in days:
            as_of = NOV_1 + timedelta(days=day)
            found = dict(owed_at_end_of(as_of).values_list("pk", "owed_minor"))
            assert found == _by_definition(as_of), as_of
            mine = dict(owed_at_end_of(as_of, client.pk).values_list("pk", "owed_minor"))
            assert mine == found
        transaction.set_rollback(True)
