"""A month's billing run as the worker makes it: started through the console's service,
billed by a real worker process, retried safely, and given up on honestly."""

import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tally.console.services.billing import start_run
from tally.invoicing import services
from tally.invoicing.models import BillingRun, BillingRunClient, Invoice
from tests.clock import ManualClock
from tests.factories import add_events, assert_lines_total_their_events, make_client, make_user
from tests.worker.conftest import run_worker, worker_process

TODAY = date(2026, 11, 25)


def start(operator, client_ids=None) -> BillingRun:
    return start_run(
        actor=operator,
        month=date(2026, 10, 1),
        client_ids=client_ids,
        today=TODAY,
        key=uuid.uuid4(),
    )


def three_clients():
    acme, globex = make_client("acme"), make_client("globex", prices={"pick": "0.3500"})
    initech = make_client("initech")
    add_events(acme, "pick", 120, day=date(2026, 10, 3))
    add_events(acme, "label", 30, day=date(2026, 10, 17))
    add_events(globex, "pick", 40, day=date(2026, 10, 9))
    add_events(globex, "storage_day", 6, day=date(2026, 10, 31))
    add_events(initech, "pick", 5, day=date(2026, 9, 30))  # September: nothing in October
    return acme, globex, initech


def test_a_run_started_from_the_console_is_billed_by_a_worker_process(tx_db):
    acme, globex, initech = three_clients()
    operator = make_user()
    run = start(operator)

    worker = worker_process("--no-periodic", "--batch", "--interval", "0")
    output = worker.communicate(timeout=120)[0]
    assert worker.returncode == 0, output

    run.refresh_from_db()
    assert (run.status, run.clients_done, run.clients_total) == ("done", 3, 3), output
    assert (run.drafts, run.events_rated) == (2, 196)
    assert run.started_at <= run.progress_at <= run.finished_at
    task = DBTaskResult.objects.get(pk=run.task_id)
    assert task.status == TaskResultStatus.SUCCESSFUL
    assert task.return_value == {"status": "done", "clients": 3, "drafts": 2, "events": 196}
    results = {e.client_id: e for e in BillingRunClient.objects.filter(run=run)}
    assert results[acme.pk].invoice.total_minor == 120 * 35 + 135  # picks + labels (1.35)
    assert results[globex.pk].unrated == [{"kind": "storage_day", "events": 6, "quantity": 6}]
    assert results[initech.pk].done and results[initech.pk].invoice is None
    assert Invoice.objects.filter(status="draft").count() == 2
    assert_lines_total_their_events()


def test_the_task_run_twice_makes_one_draft_per_client(tx_db):
    three_clients()
    run = start(make_user())
    run_worker()
    # The same task queued again, as a second worker or a stray retry would run it.
    from tally.worker import tasks

    again = tasks.run_billing.enqueue(run.pk)
    run_worker()
    assert DBTaskResult.objects.get(pk=again.id).status == TaskResultStatus.SUCCESSFUL
    assert Invoice.objects.count() == 2
    run.refresh_from_db()
    assert (run.status, run.drafts, run.clients_done) == ("done", 2, 3)


def test_a_try_that_fails_midway_is_retried_and_bills_only_the_clients_left(tx_db, monkeypatch):
    acme, globex, _ = three_clients()
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    run = start(make_user())
    real = services._keep_if_billed

    def fails_on_globex(actor, client, *args):
        if client.pk == globex.pk:
            raise ConnectionError("the database went away")
        return real(actor, client, *args)

    monkeypatch.setattr(services, "_keep_if_billed", fails_on_globex)
    run_worker()
    run.refresh_from_db()
    task = DBTaskResult.objects.get(pk=run.task_id)
    assert (task.status, len(task.worker_ids)) == (TaskResultStatus.READY, 1)
    assert (run.status, run.clients_done, run.drafts) == ("running", 1, 1)

    monkeypatch.setattr(services, "_keep_if_billed", real)
    clock.advance(seconds=5)  # the run's first backoff
    run_worker()
    run.refresh_from_db()
    assert (run.status, run.clients_done, run.drafts) == ("done", 3, 2)
    assert Invoice.objects.filter(client=acme).count() == 1
    assert Invoice.objects.filter(client=globex).count() == 1
    assert len(DBTaskResult.objects.get(pk=run.task_id).worker_ids) == 2


def test_on_its_last_try_a_failing_run_is_marked_failed_and_frees_its_month(tx_db, monkeypatch):
    three_clients()
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    operator = make_user()
    run = start(operator)

    def broken(*args):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(services, "_keep_if_billed", broken)
    for _ in range(5):
        run_worker()
        clock.advance(minutes=3)
    run.refresh_from_db()
    assert DBTaskResult.objects.get(pk=run.task_id).status == TaskResultStatus.FAILED
    assert run.status == "failed"
    assert run.error == "ConnectionError: the database went away"
    assert run.finished_at is not None
    monkeypatch.undo()
    assert start(operator).status == "queued"


@pytest.mark.django_db
def test_progress_is_written_while_one_client_is_counted(monkeypatch):
    # Each slice "slow", each progress call written: the run's counter climbs while the
    # client's draft is still being made, and each write is stamped.
    monkeypatch.setattr(services, "SLICE_TARGET", -1.0)
    monkeypatch.setattr(services, "PROGRESS_EVERY", 0.0)
    acme = make_client("acme")
    add_events(acme, "pick", 30, day=date(2026, 10, 3))
    add_events(acme, "pick", 30, day=date(2026, 10, 25))
    run = start(make_user())
    seen: list[tuple[int, int]] = []
    real = services._Progress.__call__

    def watch(self, counted):
        real(self, counted)
        row = BillingRun.objects.get(pk=run.pk)
        seen.append((row.events_rated, row.clients_done))

    monkeypatch.setattr(services._Progress, "__call__", watch)
    services.run_billing(run.pk)
    assert (30, 0) in seen and seen[-1] == (60, 0)  # before the client is done
    assert BillingRun.objects.get(pk=run.pk).events_rated == 60
    assert timezone.now() - BillingRun.objects.get(pk=run.pk).progress_at < timedelta(minutes=1)
