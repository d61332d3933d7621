"""The worker: django-tasks-db's loop, plus what Tally needs of it.

- A task that raises is tried again after a backoff (`retry.py`); when its tries are
  used up it is marked FAILED with its error and traceback (`queries.failed_tasks`).
- A worker that dies in the middle of a task (killed, out of memory, the machine lost)
  leaves the task RUNNING. Each worker records itself in `WorkerProcess` and beats every
  `HEARTBEAT` from a thread of its own; another worker puts a dead worker's task back in
  the queue (`requeue_abandoned`), so it runs again. Tasks are written to be run twice.
- Every `HOUSEKEEPING_EVERY` the worker does that, and enqueues the periodic tasks whose
  slot has come (`schedule.py`).
"""

import logging
import os
import random
import socket
import threading
import time
from datetime import datetime, timedelta
from traceback import format_exception
from typing import Any

from django.db import close_old_connections, connection
from django.db.utils import OperationalError
from django.utils import timezone
from django_tasks import TaskContext, TaskResultStatus
from django_tasks.signals import task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from . import schedule
from .models import WorkerProcess
from .retry import policy_for

log = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=10)
# A worker unseen for this long is dead wherever it ran; on this host, a worker whose
# process is gone is dead at once.
STALE_AFTER = timedelta(minutes=2)
HOUSEKEEPING_EVERY = timedelta(seconds=30)
HOST = socket.gethostname()[:255]


class WorkerLost(Exception):
    """The worker running the task stopped before the task finished."""


def _error_fields(exc: BaseException) -> dict[str, str]:
    return {
        "exception_class_path": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "traceback": "".join(format_exception(exc)),
    }


def _try_again(row: DBTaskResult, exc: BaseException, run_after: datetime) -> None:
    """Back to the queue, keeping the error for whoever looks meanwhile."""
    errors = _error_fields(exc)
    DBTaskResult.objects.filter(pk=row.pk).update(
        status=TaskResultStatus.READY, run_after=run_after, **errors
    )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def _dead_workers(at: datetime) -> tuple[set[str], set[str]]:
    """(the workers known to be dead, every worker known)."""
    known, dead = set(), set()
    for worker_id, host, pid, last_seen in WorkerProcess.objects.values_list(
        "worker_id", "host", "pid", "last_seen"
    ):
        known.add(worker_id)
        if last_seen < at - STALE_AFTER or (host == HOST and not _process_alive(pid)):
            dead.add(worker_id)
    return dead, known


def requeue_abandoned(at: datetime | None = None, *, restarting: str = "") -> int:
    """Put each task whose worker died back in the queue (or, if that was its last try,
    mark it failed); returns how many. A task claimed by a worker that never recorded
    itself here (django-tasks-db's own `db_worker`) is taken for abandoned after
    `STALE_AFTER`. `restarting` names a worker starting again under its old id
    (`--worker-id`): whatever it held before runs no more."""
    at = at or timezone.now()
    dead, known = _dead_workers(at)
    if restarting:
        dead.add(restarting)
        known.add(restarting)
    count = 0
    with exclusive_transaction(DBTaskResult.objects.db):
        running = DBTaskResult.objects.select_for_update(skip_locked=True).filter(
            status=TaskResultStatus.RUNNING
        )
        for row in running:
            holder = row.worker_ids[-1] if row.worker_ids else ""
            unknown_and_old = holder not in known and (
                row.started_at is None or row.started_at < at - STALE_AFTER
            )
            if holder not in dead and not unknown_and_old:
                continue
            tries = len(row.worker_ids)
            policy = policy_for(row.task_path)
            lost = WorkerLost(
                f"worker {holder or '?'} stopped while running this task "
                f"(try {tries} of {policy.attempts})"
            )
            if tries >= policy.attempts:
                log.error("task %s (%s): %s; giving up", row.pk, row.task_path, lost)
                row.set_failed(lost)
            else:
                log.warning("task %s (%s): %s; running it again", row.pk, row.task_path, lost)
                _try_again(row, lost, at)  # at once: the task did not fail, its worker did
            count += 1
        WorkerProcess.objects.filter(pk__in=dead).delete()
    return count


class Heartbeat(threading.Thread):
    """Writes the worker's `last_seen` every HEARTBEAT, on its own database connection,
    also while a long task runs on the main thread."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(name="tally-worker-heartbeat", daemon=True)
        self.worker_id = worker_id
        self._stop_beating = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_beating.wait(HEARTBEAT.total_seconds()):
                try:
                    beat(self.worker_id)
                except Exception:  # noqa: BLE001 - the next beat tries again
                    log.exception("worker %s: the heartbeat was not written", self.worker_id)
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_beating.set()
        self.join(timeout=30)


def beat(worker_id: str) -> None:
    now = timezone.now()
    if not WorkerProcess.objects.filter(pk=worker_id).update(last_seen=now):
        # Another worker took this one for dead (a long stall) and may run its task too.
        log.error("worker %s was taken for dead by another worker; recording it again", worker_id)
        WorkerProcess.objects.create(
            worker_id=worker_id, host=HOST, pid=os.getpid(), started_at=now, last_seen=now
        )


class TallyWorker(Worker):
    def __init__(self, *, periodic: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.periodic = periodic
        self._housekeeping_at: datetime | None = None

    def run(self) -> None:
        now = timezone.now()
        requeue_abandoned(now, restarting=self.worker_id)
        WorkerProcess.objects.create(
            worker_id=self.worker_id, host=HOST, pid=os.getpid(), started_at=now, last_seen=now
        )
        heartbeat = Heartbeat(self.worker_id)
        heartbeat.start()
        log.info(
            "worker %s started (pid %d), queues %s%s",
            self.worker_id,
            os.getpid(),
            ",".join(self.queue_names),
            ", enqueueing the periodic tasks" if self.periodic else "",
        )
        try:
            self._loop()
        finally:
            heartbeat.stop()
            WorkerProcess.objects.filter(pk=self.worker_id).delete()
            log.info("worker %s stopped", self.worker_id)

    def _loop(self) -> None:
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311 - spread workers started together
        while self.running:
            close_old_connections()
            self._housekeeping()
            row, looked = self._claim()
            if row is not None:
                self.run_task(row)
            if self.batch and looked and row is None:
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                return
            close_old_connections()
            if self.running and row is None:
                time.sleep(self.interval)

    def _housekeeping(self) -> None:
        now = timezone.now()
        if self._housekeeping_at is not None and now < self._housekeeping_at:
            return
        self._housekeeping_at = now + HOUSEKEEPING_EVERY
        try:
            requeue_abandoned(now)
            if self.periodic:
                schedule.enqueue_due(now)
        except Exception:  # noqa: BLE001 - the queue keeps running; tried again soon
            log.exception("worker %s: housekeeping failed", self.worker_id)

    def _claim(self) -> tuple[DBTaskResult | None, bool]:
        """The next ready task, marked RUNNING by this worker; and whether the queue
        could be read at all (SQLite may be locked by a writer)."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        try:
            with exclusive_transaction(tasks.db):
                row = tasks.get_locked()
                if row is not None:
                    row.claim(self.worker_id)
        except OperationalError as e:
            if is_locked_database_exception(e):
                return None, False
            raise
        return row, True

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """Run the task; on failure, queue it again after its backoff, or give up."""
        row = db_task_result
        try:
            self.running_task = True
            task = row.task
            result = row.task_result
            backend = task.get_backend()
            task_started.send(sender=type(backend), task_result=result)
            if task.takes_context:
                context = TaskContext(task_result=result)  # type: ignore[arg-type]
                value = task.call(context, *result.args, **result.kwargs)
            else:
                value = task.call(*result.args, **result.kwargs)
            row.set_successful(value)
            task_finished.send(sender=type(backend), task_result=row.task_result)
        except BaseException as e:  # noqa: BLE001 - recorded below, then re-raised if fatal
            self._failed(row, e)
            if not isinstance(e, Exception):
                raise  # Ctrl-C twice, SystemExit: the worker stops
        finally:
            self.running_task = False
            self._run_tasks += 1

    def _failed(self, row: DBTaskResult, exc: BaseException) -> None:
        tries = len(row.worker_ids)
        policy = policy_for(row.task_path)
        if not isinstance(exc, Exception):
            log.warning("task %s (%s) interrupted; it will run again", row.pk, row.task_path)
            _try_again(row, exc, timezone.now())
            return
        if tries < policy.attempts:
            delay = policy.delay(tries)
            log.warning(
                "task %s (%s) failed on try %d of %d; trying again in %s",
                row.pk,
                row.task_path,
                tries,
                policy.attempts,
                delay,
                exc_info=exc,
            )
            _try_again(row, exc, timezone.now() + delay)
            return
        log.error(
            "task %s (%s) failed on try %d of %d; giving up",
            row.pk,
            row.task_path,
            tries,
            policy.attempts,
            exc_info=exc,
        )
        row.set_failed(exc)
        try:
            task_finished.send(sender=type(row.task.get_backend()), task_result=row.task_result)
        except Exception:  # noqa: BLE001 - the failure is recorded; a receiver's error is not ours
            log.exception("task %s: a task_finished receiver failed", row.pk)
