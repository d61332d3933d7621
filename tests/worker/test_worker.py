"""The task queue on a real database: tasks run, failures retry with backoff and end up
visible, and a worker killed in the middle of a task leaves it to run again."""

import email
import io
import logging
import os
import signal
import uuid
from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tally.accounts import throttle
from tally.accounts.models import LoginThrottle
from tally.audit.models import AuditEvent
from tally.console.models import FormSubmission
from tally.console.services.submissions import claim
from tally.reminders.models import Reminder, ReminderStatus
from tally.reminders.services import send_due_reminders as send_now
from tally.worker import tasks
from tally.worker.models import WorkerProcess
from tally.worker.queries import failed_tasks
from tally.worker.runner import HOST
from tests.clock import ManualClock
from tests.factories import issued_invoice, make_client, make_user
from tests.worker import sample_tasks
from tests.worker.conftest import run_worker, worker_process

DEC_8 = date(2026, 12, 8)  # steps -3, 0 and +7 of an invoice due on 1 Dec are due: one email


def row(result) -> DBTaskResult:
    return DBTaskResult.objects.get(pk=result.id)


def email_tasks() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=tasks.send_reminder_email.module_path).order_by(
            "enqueued_at"
        )
    )


def test_a_queued_reminder_run_claims_what_is_due_and_a_task_per_step_sends_it(tx_db, mailoutbox):
    invoice = issued_invoice(make_client("acme"), picks=3)
    result = tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())
    assert row(result).status == TaskResultStatus.READY and mailoutbox == []

    run_worker()

    done = row(result)
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert done.return_value["claimed"] == 1 and done.return_value["skipped"] == 2
    [email_task] = email_tasks()
    step = Reminder.objects.get(status=ReminderStatus.SENT)
    assert email_task.args_kwargs["args"] == [step.pk, DEC_8.isoformat()]
    assert email_task.status == TaskResultStatus.SUCCESSFUL
    assert email_task.return_value["sent"] == 1
    assert [m.extra_headers["X-Tally-Invoice"] for m in mailoutbox] == [invoice.display_number]
    assert not WorkerProcess.objects.exists()  # a worker that stops says so


def test_running_the_reminder_task_twice_sends_nothing_twice(tx_db, mailoutbox):
    issued_invoice(make_client("acme"), picks=3)
    first = tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())
    second = tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())

    run_worker()

    assert len(mailoutbox) == 1
    assert row(first).return_value["claimed"] == 1 and row(second).return_value["claimed"] == 0
    assert AuditEvent.objects.filter(action="reminder.sent").count() == 1


def test_an_email_task_run_again_after_it_sent_leaves_the_step_alone(tx_db, mailoutbox):
    issued_invoice(make_client("acme"), picks=3)
    tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())
    run_worker()
    [sent] = email_tasks()
    again = tasks.send_reminder_email.enqueue(*sent.args_kwargs["args"])

    run_worker()

    assert row(again).return_value == {**row(again).return_value, "sent": 0, "needs_review": 0}
    assert len(mailoutbox) == 1
    assert Reminder.objects.filter(status=ReminderStatus.SENT).count() == 1


def test_the_throttle_purge_task_forgets_idle_counters(tx_db):
    throttle.record_failure("someone@acme.example", "203.0.113.9")
    LoginThrottle.objects.update(last_failure_at=timezone.now() - timedelta(days=2))
    result = tasks.purge_login_throttle.enqueue()

    run_worker()

    assert row(result).return_value >= 1 and not LoginThrottle.objects.exists()


def test_the_form_key_purge_task_forgets_keys_claimed_a_month_ago(tx_db):
    operator = make_user()
    claim(operator, uuid.uuid4())
    FormSubmission.objects.update(submitted_at=timezone.now() - timedelta(days=31))
    claim(operator, uuid.uuid4())
    result = tasks.purge_form_submissions.enqueue()

    run_worker()

    assert row(result).return_value == 1 and FormSubmission.objects.count() == 1


def test_a_failing_task_is_retried_with_backoff_then_shown_as_failed_with_its_error(
    tx_db, monkeypatch, caplog
):
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    result = sample_tasks.always_fails.enqueue("invoice run 2026-11")

    run_worker()  # try 1 fails: the next is 30 s later
    waiting = row(result)
    assert (waiting.status, len(waiting.worker_ids)) == (TaskResultStatus.READY, 1)
    assert "the ledger service said no (invoice run 2026-11)" in waiting.traceback
    assert failed_tasks() == []

    clock.advance(seconds=29)
    run_worker()
    assert len(row(result).worker_ids) == 1  # not yet

    clock.advance(seconds=1)
    run_worker()  # try 2 fails: the next is 60 s later
    assert (row(result).status, len(row(result).worker_ids)) == (TaskResultStatus.READY, 2)
    clock.advance(seconds=59)
    run_worker()
    assert len(row(result).worker_ids) == 2

    clock.advance(seconds=1)
    with caplog.at_level(logging.WARNING, logger="tally.worker.runner"):
        run_worker()  # try 3 of 3 fails: given up

    assert row(result).status == TaskResultStatus.FAILED
    [failed] = failed_tasks()
    listed = io.StringIO()
    call_command("failed_tasks", stdout=listed)
    assert f"tests.worker.sample_tasks.always_fails  {result.id}  after 3 tries" in (
        listed.getvalue()
    )
    assert "RuntimeError: the ledger service said no (invoice run 2026-11)" in listed.getvalue()
    assert (failed.id, failed.task_path, failed.args, failed.attempts) == (
        str(result.id),
        "tests.worker.sample_tasks.always_fails",
        ["invoice run 2026-11"],
        3,
    )
    assert failed.error == "RuntimeError: the ledger service said no (invoice run 2026-11)"
    assert failed.error_class == "builtins.RuntimeError"
    [given_up] = [
        r for r in caplog.records if r.levelno == logging.ERROR and r.name == "tally.worker.runner"
    ]
    assert "failed on try 3 of 3; giving up" in given_up.getMessage()
    assert given_up.exc_info is not None


def test_a_worker_killed_in_the_middle_of_a_task_leaves_it_to_run_again_and_nothing_is_done_twice(
    tx_db, holding_smtp
):
    invoices = [issued_invoice(make_client(code), picks=3) for code in ("acme", "globex")]
    holding_smtp.hold = 2  # the first email goes through; the worker dies sending the second
    claim = tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())

    first = worker_process("--no-periodic", "--interval", "0.05", env=holding_smtp.env)
    try:
        while not holding_smtp.arrived.wait(0.1):
            assert first.poll() is None, first.communicate()[0]
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        first.kill()
        holding_smtp.release.set()
    [killed] = [t for t in email_tasks() if t.status == TaskResultStatus.RUNNING]
    assert len(killed.worker_ids) == 1

    second = worker_process("--no-periodic", "--batch", "--interval", "0", env=holding_smtp.env)
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 0, output

    assert row(claim).return_value["claimed"] == 2 and len(row(claim).worker_ids) == 1
    done = DBTaskResult.objects.get(pk=killed.pk)
    assert done.status == TaskResultStatus.SUCCESSFUL, output
    assert done.worker_ids[0] == killed.worker_ids[0] and len(done.worker_ids) == 2
    # The email the dead worker was handing over may or may not have gone: its step goes
    # to a person at once, and no second copy is sent.
    assert done.return_value["needs_review"] == 1 and done.return_value["sent"] == 0
    numbers = Counter(
        email.message_from_bytes(m.content)["X-Tally-Invoice"] for m in holding_smtp.messages
    )
    assert numbers == Counter({invoice.display_number: 1 for invoice in invoices})
    assert AuditEvent.objects.filter(action="reminder.claimed").count() == 2
    assert AuditEvent.objects.filter(action="reminder.sent").count() == 1
    assert AuditEvent.objects.filter(action="reminder.needs_review").count() == 1
    dealt_with = Reminder.objects.exclude(
        status__in=[ReminderStatus.SKIPPED, ReminderStatus.SCHEDULED]
    ).values_list("status", flat=True)
    assert sorted(dealt_with) == [ReminderStatus.NEEDS_REVIEW, ReminderStatus.SENT]
    report = send_now(today=DEC_8)  # and nothing is left for a later run to send
    assert report.sent == 0 and len(holding_smtp.messages) == 2


@pytest.mark.parametrize("last_try", [False, True])
def test_a_task_whose_worker_is_gone_is_queued_again_or_given_up_on_its_last_try(tx_db, last_try):
    from tally.worker.runner import requeue_abandoned

    result = sample_tasks.always_fails.enqueue("x")
    tries = 3 if last_try else 1
    now = timezone.now()
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING,
        started_at=now,
        worker_ids=[f"gone-{n}" for n in range(tries)],
    )
    WorkerProcess.objects.create(
        worker_id=f"gone-{tries - 1}", host="elsewhere", pid=1, started_at=now, last_seen=now
    )
    assert requeue_abandoned(now) == 0  # seen just now on another host: alive

    assert requeue_abandoned(now + timedelta(minutes=3)) == 1
    after = row(result)
    if last_try:
        assert after.status == TaskResultStatus.FAILED
        assert failed_tasks()[0].error.startswith("tally.worker.runner.WorkerLost: worker gone-2")
    else:
        assert after.status == TaskResultStatus.READY
        assert "WorkerLost: worker gone-0 stopped while running this task (try 1 of 3)" in (
            after.traceback
        )
    assert not WorkerProcess.objects.exists()


def test_succeeded_tasks_are_pruned_after_a_week_and_failed_ones_kept(tx_db, monkeypatch):
    clock = ManualClock()
    monkeypatch.setattr(timezone, "now", clock)
    old = tasks.purge_login_throttle.enqueue()
    failed = sample_tasks.always_fails.enqueue("kept for the console")
    run_worker()  # the purge succeeds; always_fails waits for its second try
    DBTaskResult.objects.filter(pk=failed.id).update(
        status=TaskResultStatus.FAILED, finished_at=clock()
    )
    clock.advance(days=7, seconds=1)
    recent = tasks.purge_login_throttle.enqueue()
    run_worker()
    prune = tasks.prune_task_results.enqueue()

    run_worker()

    assert row(prune).return_value == 1
    left = {str(pk) for pk in DBTaskResult.objects.values_list("pk", flat=True)}
    assert left == {str(failed.id), str(recent.id), str(prune.id)}
    assert str(old.id) not in left


def test_a_worker_restarted_under_its_old_id_runs_again_the_task_it_held_when_it_died(
    tx_db, mailoutbox
):
    issued_invoice(make_client("acme"), picks=3)
    result = tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())
    now = timezone.now()
    # As a worker "w1" killed while it held the task leaves things (its pid now reused).
    DBTaskResult.objects.filter(pk=result.id).update(
        status=TaskResultStatus.RUNNING, started_at=now, worker_ids=["w1"]
    )
    WorkerProcess.objects.create(
        worker_id="w1", host=HOST, pid=os.getpid(), started_at=now, last_seen=now
    )

    run_worker(worker_id="w1")

    assert row(result).status == TaskResultStatus.SUCCESSFUL
    assert row(result).worker_ids == ["w1", "w1"] and len(mailoutbox) == 1
