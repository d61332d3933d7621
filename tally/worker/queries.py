"""Reads of the task queue, for the console: what failed for good, and why."""

from dataclasses import dataclass
from datetime import datetime

from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult


@dataclass(frozen=True)
class FailedTask:
    id: str
    task_path: str
    args: list
    kwargs: dict
    attempts: int
    enqueued_at: datetime
    finished_at: datetime | None
    error_class: str
    error: str  # the exception's last line, e.g. "SMTPServerDisconnected: ..."
    traceback: str


def _last_line(traceback: str) -> str:
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def failed_tasks(limit: int = 100) -> list[FailedTask]:
    """Tasks the worker gave up on (every try failed), newest first."""
    rows = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).order_by(
        "-finished_at", "-enqueued_at"
    )[:limit]
    return [
        FailedTask(
            id=str(r.id),
            task_path=r.task_path,
            args=r.args_kwargs.get("args", []),
            kwargs=r.args_kwargs.get("kwargs", {}),
            attempts=len(r.worker_ids),
            enqueued_at=r.enqueued_at,
            finished_at=r.finished_at,
            error_class=r.exception_class_path,
            error=_last_line(r.traceback),
            traceback=r.traceback,
        )
        for r in rows
    ]
