"""Billing runs at once on PostgreSQL: two operators starting the same month get one run
(the other is told which), and two workers on one run make one draft per client."""

import uuid
from datetime import date

import pytest

from tally.console.services.billing import start_run
from tally.console.services.submissions import AlreadySubmitted
from tally.errors import DomainError
from tally.invoicing import services
from tally.invoicing.models import BillingRun, Invoice
from tests.concurrency import at_once
from tests.factories import add_events, assert_lines_total_their_events, make_client, make_user

pytestmark = [pytest.mark.postgres_only]

OCT = date(2026, 10, 1)


def starting(operator, key=None, client_ids=None):
    return lambda: start_run(
        actor=operator,
        month=OCT,
        client_ids=client_ids,
        today=date(2026, 11, 25),
        key=key or uuid.uuid4(),
    )


def test_two_operators_starting_the_same_month_at_once_get_one_run(tx_db):
    acme = make_client("acme")
    first, second = make_user(), make_user()
    outcomes = at_once(starting(first), starting(second, client_ids=[acme.pk]))
    [run] = [o for o in outcomes if isinstance(o, BillingRun)]
    [refused] = [o for o in outcomes if isinstance(o, DomainError)]
    assert refused.code == "billing_run_under_way"
    assert f"run {run.pk}" in refused.message
    assert BillingRun.objects.count() == 1


def test_one_form_sent_twice_at_once_starts_one_run(tx_db):
    make_client("acme")
    operator, key = make_user(), uuid.uuid4()
    outcomes = at_once(starting(operator, key), starting(operator, key))
    assert sum(isinstance(o, BillingRun) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, AlreadySubmitted) for o in outcomes) == 1, outcomes
    assert BillingRun.objects.count() == 1


def test_two_workers_on_one_run_at_once_make_one_draft_per_client(tx_db):
    clients = [make_client(f"c{i}") for i in range(6)]
    for client in clients:
        add_events(client, "pick", 20, day=date(2026, 10, 5))
    run = starting(make_user())()
    outcomes = at_once(lambda: services.run_billing(run.pk), lambda: services.run_billing(run.pk))
    assert all(isinstance(o, BillingRun) for o in outcomes), outcomes
    assert Invoice.objects.count() == 6
    run.refresh_from_db()
    assert (run.status, run.clients_done, run.drafts, run.events_rated) == ("done", 6, 6, 120)
    assert_lines_total_their_events()
