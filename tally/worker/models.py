"""What the worker keeps beside django-tasks-db's own table of task results."""

from django.db import models


class WorkerProcess(models.Model):
    """A running `tally worker`, so that another can tell whether a task it holds is
    still being run: a worker that stopped beating, or whose process is gone from this
    host, has abandoned its task, which is then run again (`runner.requeue_abandoned`)."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()


class ScheduledRun(models.Model):
    """One slot of a periodic task (e.g. 10:15 for the reminders), taken by the worker
    that inserts it first: two workers never both enqueue one slot."""

    task_path = models.CharField(max_length=200)
    slot = models.DateTimeField()
    # The task result it enqueued (no foreign key: old task results are pruned).
    task_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["task_path", "slot"], name="scheduled_run_one_per_slot"
            ),
        ]
        indexes = [models.Index(fields=["slot"], name="scheduled_run_slot_idx")]
