"""Work a lower layer asks the worker to do, by name.

The worker (`tally/worker/`) is the top layer: its tasks draw the portal's PDF and call
every domain app, so nothing below it may import them. A service that needs work done
outside the request (a billing run, an invoice's email) asks here instead, and the worker
registers a task for every `Job` when Django starts (`WorkerConfig.ready`), refusing to
start if one is missing. With the database task backend the task's row is written in the
caller's transaction: work that rolls back leaves no task, work that commits always has
one.
"""

from enum import StrEnum
from typing import Any

from django_tasks import TaskResultStatus, default_task_backend
from django_tasks.base import Task
from django_tasks.exceptions import TaskResultDoesNotExist


class Job(StrEnum):
    """Each job the worker does on request; the worker's task of the same name does it."""

    RUN_BILLING = "run_billing"  # a month's billing run (invoicing.BillingRun)
    # An operator's reply in a dispute, emailed to the client's billing contacts.
    EMAIL_DISPUTE_REPLY = "email_dispute_reply"
    # A client's new dispute or message, emailed to the operators.
    NOTIFY_OPERATORS_OF_DISPUTE = "notify_operators_of_dispute"
    # A client's withdrawal of its dispute, emailed to the operators.
    NOTIFY_OPERATORS_OF_WITHDRAWAL = "notify_operators_of_withdrawal"
    SEND_INVOICE_EMAIL = "send_invoice_email"  # an issued invoice to its billing contacts


_tasks: dict[Job, Task[..., Any]] = {}


def register(job: Job, task: Task[..., Any]) -> None:
    _tasks[job] = task


def unregistered() -> list[Job]:
    return [job for job in Job if job not in _tasks]


def request(job: Job, *args: Any, **kwargs: Any) -> str:
    """Enqueue `job`; its task's id, to find its result by."""
    return _tasks[job].enqueue(*args, **kwargs).id


def given_up(task_id: str) -> bool:
    """Whether the worker has given up on a requested job (its tries used up), or it is
    gone: whatever waited for it will not be done by it."""
    try:
        return default_task_backend.get_result(task_id).status == TaskResultStatus.FAILED
    except TaskResultDoesNotExist:
        return True
