"""`tally failed-tasks`: the tasks the worker gave up on, and why (until the console lists them)."""

from typing import Any

from django.core.management.base import BaseCommand

from tally.worker.queries import failed_tasks


class Command(BaseCommand):
    help = "List the tasks that failed on every try, newest first, with their last error."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=100)
        parser.add_argument("--tracebacks", action="store_true", help="print each traceback")

    def handle(self, *args: Any, limit: int, tracebacks: bool, **options: Any) -> None:
        failed = failed_tasks(limit=limit)
        for task in failed:
            when = task.finished_at.isoformat(timespec="seconds") if task.finished_at else "?"
            self.stdout.write(
                f"{when}  {task.task_path}  {task.id}  after {task.attempts} tries\n"
                f"    args {task.args} {task.kwargs}\n    {task.error}"
            )
            if tracebacks:
                self.stdout.write(task.traceback)
        self.stdout.write(f"{len(failed)} failed task(s)")
