"""The tasks Tally runs outside the request. Each is safe to run twice: the worker runs a
task again when the one running it died, and a retry may follow a try that did part of
the work.

Import `task` from `django.tasks` once on Django 6; nothing else changes.
"""

from dataclasses import asdict
from datetime import date, timedelta

from django.utils import timezone
from django_tasks import TaskContext, TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tally.accounts import services as accounts
from tally.accounts import throttle
from tally.console.services import submissions
from tally.disputes import emails as dispute_emails
from tally.invoicing import emails as invoice_emails
from tally.invoicing import services as invoicing
from tally.reminders import services as reminders

from .emails import invoice_pdf
from .retry import policy_for, retried


@task()
def send_due_reminders(today: str | None = None) -> dict[str, int]:
    """Every 15 minutes (`schedule.PERIODIC`): claim the due reminder steps and enqueue one
    `send_reminder_email` per step, in the transaction that claims them. Twice is
    harmless: a step is claimed once, so a second run finds nothing left. `today`
    (YYYY-MM-DD) fixes the date for every client, as `tally send-reminders --today`."""
    claimed: list[int] = []

    def enqueue(ids: list[int]) -> None:
        # The database backend writes the tasks in the claim's transaction: a claim that
        # rolls back leaves no task, and a claimed step always has one.
        for reminder_id in ids:
            send_reminder_email.enqueue(reminder_id, today)
        claimed.extend(ids)

    report = reminders.claim_due_reminders(
        on_claimed=enqueue, today=date.fromisoformat(today) if today else None
    )
    return {"claimed": len(claimed), **asdict(report)}


@task(takes_context=True)
def send_reminder_email(
    context: TaskContext, reminder_id: int, today: str | None = None
) -> dict[str, int]:
    """One claimed reminder step: the email, with the invoice's PDF. Twice is harmless: a
    step already sent (or failed, skipped) is left alone, and one still `sending` on a
    later try, whose earlier try stopped midway, goes to review instead of out again."""
    report = reminders.deliver_claimed(
        reminder_id,
        first_try=context.attempt == 1,
        today=date.fromisoformat(today) if today else None,
        attach=invoice_pdf,
    )
    return asdict(report)


@retried(attempts=5, first=timedelta(seconds=30), longest=timedelta(hours=1))
@task(takes_context=True)
def send_invoice_email(context: TaskContext, email_id: int) -> dict[str, object]:
    """An issued invoice to its client's billing contacts, with its PDF. Twice is
    harmless: an email already sent is left alone, and one a try left midway goes to
    review. An invoice voided since the email was asked for is not emailed: the email is
    recorded as not sent, with why. A mail server that refuses raises, and the worker tries again after its
    backoff; the last try marks the email failed instead, for the console to show."""
    final = context.attempt >= policy_for(send_invoice_email.module_path).attempts
    return invoice_emails.deliver_invoice_email(
        email_id, attempt=context.attempt, final=final, attach=invoice_pdf
    )


@task()
def email_dispute_reply(message_id: int) -> dict[str, list[str]]:
    """An operator's reply in a dispute, to the client's billing contacts. Twice is
    harmless: a message already emailed is left alone. A mail server that fails raises,
    and the worker tries again (`retry.DEFAULT`)."""
    return {"recipients": dispute_emails.email_reply(message_id)}


@task()
def notify_operators_of_dispute(message_id: int) -> dict[str, list[str]]:
    """A client's new dispute or message, to its owner or else every operator. Twice is
    harmless, as `email_dispute_reply`."""
    return {"recipients": dispute_emails.notify_operators(message_id)}


@task()
def notify_operators_of_withdrawal(dispute_id: int) -> dict[str, list[str]]:
    """A client's withdrawal of its dispute, to its owner or else every operator. Twice
    is harmless, as `email_dispute_reply`."""
    return {"recipients": dispute_emails.notify_withdrawal(dispute_id)}


@task()
def purge_login_throttle() -> int:
    """Daily: forget sign-in counters idle for a day. Twice deletes nothing more."""
    return throttle.purge()


@task()
def purge_form_submissions() -> int:
    """Daily: forget the console's one-time form keys claimed a month ago
    (`console.services.submissions.KEEP_FOR`). Twice deletes nothing more."""
    return submissions.purge_submissions()


@task()
def purge_ended_sessions() -> int:
    """Daily: drop expired sessions and the names of ended ones. Twice deletes nothing more."""
    return accounts.purge_ended_sessions()


KEEP_SUCCESSFUL_FOR = timedelta(days=7)


@task()
def prune_task_results() -> int:
    """Daily: forget tasks that succeeded a week ago (the reminder run alone leaves 96 a
    day). Failed tasks stay for the console (`queries.failed_tasks`)."""
    deleted, _ = DBTaskResult.objects.filter(
        status=TaskResultStatus.SUCCESSFUL, finished_at__lt=timezone.now() - KEEP_SUCCESSFUL_FOR
    ).delete()
    return deleted


@retried(attempts=5, first=timedelta(seconds=5), longest=timedelta(minutes=2))
@task(takes_context=True)
def run_billing(context: TaskContext, run_id: int) -> dict[str, int | str]:
    """A month's billing run (`invoicing.start_billing_run` asks for it): each chosen
    client's draft, with the run's progress as it goes. Twice is harmless: a client is
    marked done in the transaction that makes its draft, and a retry skips it. On the
    last try a failure marks the run failed, which frees the month for another run."""
    try:
        run = invoicing.run_billing(run_id)
    except Exception as e:
        if context.attempt >= policy_for(run_billing.module_path).attempts:
            invoicing.fail_billing_run(run_id, f"{type(e).__name__}: {e}")
        raise
    return {
        "status": run.status,
        "clients": run.clients_done,
        "drafts": run.drafts,
        "events": run.events_rated,
    }
