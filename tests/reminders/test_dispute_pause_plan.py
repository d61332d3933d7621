"""The sender pauses a disputed invoice's steps with the invoices' one condition for
"has an open dispute" (`Invoice.objects.open_dispute_condition`): `invoice_id IN (…)`,
which PostgreSQL runs negated as a hashed subplan whatever its statistics. The sender's
own correlated NOT EXISTS became an anti join, which without statistics read every open
dispute once per reminder."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tally.accounts.models import Role
from tally.disputes.services import open_dispute
from tally.reminders.services import send_due_reminders
from tests import planner
from tests.factories import issued_invoice, make_client, make_user


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("state", planner.POSTGRES_STATES)
def test_the_sender_finds_disputed_invoices_by_a_hashed_subplan(state):
    acme = make_client("planner")
    invoices = [issued_invoice(acme, picks=10 + n) for n in range(4)]
    user = make_user(Role.CLIENT_USER, client=acme)
    open_dispute(actor=user, client=acme, invoice_id=invoices[0].pk, reason="Not our picks.")
    planner.set_statistics(state)
    with CaptureQueriesContext(connection) as captured:
        report = send_due_reminders(today=date(2026, 12, 8))
    assert (report.sent, report.paused) == (3, 3)  # due: 28 Nov, 1 and 8 Dec
    statements = [
        q["sql"]
        for q in captured.captured_queries
        if 'FROM "reminders_reminder"' in q["sql"] and '"disputes_dispute"' in q["sql"]
    ]
    assert len(statements) == 3, statements  # the claim twice (none left), the count
    for sql in statements:
        text = "\n".join(planner.plan(sql))
        assert "Anti Join" not in text, text
        if "FOR UPDATE" in sql:  # the claim leaves the disputed out: NOT IN, hashed
            assert "NOT (hashed SubPlan 1)" in text, text
