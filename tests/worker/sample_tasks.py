"""Tasks that exist only for the worker's tests (a real task cannot be made to fail on cue)."""

from datetime import timedelta

from django_tasks import task

from tally.worker.retry import retried


@retried(attempts=3, first=timedelta(seconds=30))
@task()
def always_fails(note: str) -> None:
    raise RuntimeError(f"the ledger service said no ({note})")
