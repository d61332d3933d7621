"""Periodic work, enqueued by the worker itself: a fresh install needs no cron.

Each period is cut into slots counted from the Unix epoch in UTC (10:00, 10:15, … for a
15-minute task; midnight UTC for a daily one). A worker enqueues the current slot's run
unless a `ScheduledRun` row for (task, slot) exists; the row is unique, so when two
workers try at once one insert fails and its task is rolled back with it. A slot missed
while no worker ran is not made up: the next run does the same work.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks.base import Task

from . import tasks
from .models import ScheduledRun

log = logging.getLogger(__name__)
KEEP_SLOTS_FOR = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Periodic:
    task: Task[Any, Any]
    every: timedelta

    def slot(self, at: datetime) -> datetime:
        """The start of the slot `at` falls in."""
        return at - (at - _EPOCH) % self.every


PERIODIC = (
    Periodic(tasks.send_due_reminders, timedelta(minutes=15)),
    Periodic(tasks.purge_login_throttle, timedelta(days=1)),
    Periodic(tasks.purge_form_submissions, timedelta(days=1)),
    Periodic(tasks.purge_ended_sessions, timedelta(days=1)),
    Periodic(tasks.prune_task_results, timedelta(days=1)),
)


def enqueue_due(
    at: datetime | None = None, periodic: tuple[Periodic, ...] = PERIODIC
) -> list[ScheduledRun]:
    """Enqueue each periodic task whose current slot has no run yet; the runs enqueued."""
    at = at or timezone.now()
    enqueued = []
    for p in periodic:
        slot = p.slot(at)
        path = p.task.module_path
        if ScheduledRun.objects.filter(task_path=path, slot=slot).exists():
            continue
        try:
            # With the database backend the task row commits or rolls back with the slot's.
            with transaction.atomic():
                result = p.task.enqueue()
                run = ScheduledRun.objects.create(task_path=path, slot=slot, task_id=result.id)
        except IntegrityError:
            continue  # another worker took this slot first
        log.info("enqueued %s for the slot of %s", path, slot.isoformat())
        enqueued.append(run)
    if enqueued:
        ScheduledRun.objects.filter(slot__lt=at - KEEP_SLOTS_FOR).delete()
    return enqueued
