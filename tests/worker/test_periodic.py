"""Periodic work is enqueued by the worker itself, once per slot however many workers run."""

from datetime import UTC, datetime, timedelta

import pytest
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tally.worker import tasks
from tally.worker.models import ScheduledRun
from tally.worker.schedule import enqueue_due
from tests.concurrency import at_once, raised
from tests.worker.conftest import run_worker

REMINDERS = tasks.send_due_reminders.module_path
PURGE = tasks.purge_login_throttle.module_path
PRUNE = tasks.prune_task_results.module_path
KEYS = tasks.purge_form_submissions.module_path
SESSIONS = tasks.purge_ended_sessions.module_path


def queued() -> list[str]:
    return sorted(DBTaskResult.objects.values_list("task_path", flat=True))


@pytest.mark.django_db
def test_each_periodic_task_is_enqueued_once_per_slot():
    at = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)

    first = enqueue_due(at)
    assert sorted((r.task_path, r.slot) for r in first) == [
        (PRUNE, datetime(2026, 11, 25, tzinfo=UTC)),
        (SESSIONS, datetime(2026, 11, 25, tzinfo=UTC)),
        (KEYS, datetime(2026, 11, 25, tzinfo=UTC)),
        (PURGE, datetime(2026, 11, 25, tzinfo=UTC)),
        (REMINDERS, datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
    ]
    assert enqueue_due(at + timedelta(minutes=7)) == []  # 10:14: the same slots
    [next_quarter] = enqueue_due(at + timedelta(minutes=8))  # 10:15
    assert (next_quarter.task_path, next_quarter.slot) == (
        REMINDERS,
        datetime(2026, 11, 25, 10, 15, tzinfo=UTC),
    )
    next_day = enqueue_due(datetime(2026, 11, 26, 0, 20, tzinfo=UTC))
    assert [r.task_path for r in next_day] == [REMINDERS, PURGE, KEYS, SESSIONS, PRUNE]
    daily = [PURGE, KEYS, SESSIONS, PRUNE]
    assert queued() == sorted([REMINDERS, *daily, REMINDERS] + [REMINDERS, *daily])
    # Each slot's row names the task it enqueued.
    assert set(ScheduledRun.objects.values_list("task_id", flat=True)) == {
        str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)
    }


def test_two_workers_scheduling_the_same_slot_at_once_enqueue_it_once(tx_db):
    at = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    outcomes = at_once(lambda: enqueue_due(at), lambda: enqueue_due(at))
    assert raised(outcomes) == []
    assert queued() == sorted([REMINDERS, PURGE, KEYS, SESSIONS, PRUNE])


def test_a_fresh_install_needs_no_cron_the_worker_runs_the_periodic_work(tx_db):
    run_worker(periodic=True)
    run_worker(periodic=True)  # the same slots: nothing new

    done = DBTaskResult.objects.values_list("task_path", "status")
    assert sorted(done) == sorted(
        [(path, TaskResultStatus.SUCCESSFUL) for path in (REMINDERS, PURGE, KEYS, SESSIONS, PRUNE)]
    )


@pytest.mark.django_db
def test_old_slots_are_forgotten_after_a_week():
    at = datetime(2026, 11, 25, 10, 7, tzinfo=UTC)
    enqueue_due(at)
    enqueue_due(at + timedelta(days=8))
    assert min(ScheduledRun.objects.values_list("slot", flat=True)) > at
