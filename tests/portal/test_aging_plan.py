"""The aging of a past day, inside a client's scope, finds an invoice's payments and
credits by the invoice on SQLite in every state of the planner's statistics
(tests/planner.py). The scope's views add the client to every read; with only an index
on the client, SQLite read all of the client's allocations once per invoice and once per
later payment: 1.9-3.9 s for the benchmark's largest client, 39 ms with an index on
(client, invoice) and one on (client, payment)."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.audit.actors import SystemActor
from tally.invoicing.services import create_credit_note
from tally.payments.aging import owed_at_end_of
from tally.portal.scope import client_scope
from tests import planner
from tests.factories import issued_invoice, make_client, pay


@pytest.fixture
def forget_statistics(tx_db):
    yield
    planner.forget_sqlite_statistics()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("state", planner.SQLITE_STATES)
def test_a_past_days_aging_finds_payments_and_credits_by_the_invoice(state, forget_statistics):
    acme, other = make_client("planner"), make_client("other")
    invoices = [
        issued_invoice(client, picks=10 + n, issue_date=date(2026, 10, 1))
        for client in (acme, other)
        for n in range(3)
    ]
    for invoice in invoices:
        pay(invoice.client, 100, invoice=invoice, received_on=date(2026, 10, 20))
        pay(invoice.client, 50, invoice=invoice, received_on=date(2026, 11, 20))
    create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoices[0].pk,
        amount_minor=25,
        reason="Damaged",
    )
    as_of = date(2026, 11, 1)
    with client_scope(acme.pk):
        with planner.unscoped():
            planner.set_statistics(state)
        with CaptureQueriesContext(connection) as captured:
            owed = dict(owed_at_end_of(as_of, acme.pk).values_list("pk", "owed_minor"))
        [statement] = [q["sql"] for q in captured.captured_queries]
        plan = planner.plan(statement)
    # Each of acme's invoices owed its total less the 1.00 paid by then (the 0.50 and the
    # credit came later).
    assert owed == {i.pk: i.total_minor - 100 for i in invoices[:3]}
    allocations = [step for step in plan if "payments_allocation" in step]
    assert allocations and all(
        "(client_id=? AND invoice_id=?)" in step or "(client_id=? AND payment_id=?)" in step
        for step in allocations
    ), plan
    if state == "never analyzed":  # analysed, this test's one credit note is read whole
        per_invoice = "USING INDEX credit_note_client_inv_idx (client_id=? AND invoice_id=?)"
        assert any(per_invoice in step for step in plan), plan
        assert not any("SCAN" in step and "main." in step for step in plan), plan
