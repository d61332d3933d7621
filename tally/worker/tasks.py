"""The tasks Tally runs outside the request. Each is safe to run twice: the worker runs a
task again when the one running it died, and a retry may follow a try that did part of
the work.

Import `task` from `django.tasks` once on Django 6; nothing else changes.
"""

from dataclasses import asdict
from datetime import date, timedelta

from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tally.accounts import throttle
from tally.reminders import services as reminders

from .emails import invoice_pdf


@task()
def send_due_reminders(today: str | None = None) -> dict[str, int]:
    """Every 15 minutes (`schedule.PERIODIC`). Twice is harmless: each step is claimed
    once (reminders.services), so a second run finds nothing left to send. `today`
    (YYYY-MM-DD) fixes the date for every client, as `tally send-reminders --today`.
    Each email carries the invoice's PDF."""
    report = reminders.send_due_reminders(
        today=date.fromisoformat(today) if today else None, attach=invoice_pdf
    )
    return asdict(report)


@task()
def purge_login_throttle() -> int:
    """Daily: forget sign-in counters idle for a day. Twice deletes nothing more."""
    return throttle.purge()


KEEP_SUCCESSFUL_FOR = timedelta(days=7)


@task()
def prune_task_results() -> int:
    """Daily: forget tasks that succeeded a week ago (the reminder run alone leaves 96 a
    day). Failed tasks stay for the console (`queries.failed_tasks`)."""
    deleted, _ = DBTaskResult.objects.filter(
        status=TaskResultStatus.SUCCESSFUL, finished_at__lt=timezone.now() - KEEP_SUCCESSFUL_FOR
    ).delete()
    return deleted
