"""How often a failing task is tried, and how long the worker waits between tries."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.utils.module_loading import import_string
from django_tasks.base import Task

TaskT = TypeVar("TaskT", bound=Task[Any, Any])


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries in all; after the n-th failure the worker waits `first` × 2^(n-1),
    at most `longest`, before the next."""

    attempts: int = 5
    first: timedelta = timedelta(seconds=30)
    longest: timedelta = timedelta(hours=1)

    def delay(self, failed_attempts: int) -> timedelta:
        return min(self.first * 2 ** max(failed_attempts - 1, 0), self.longest)


DEFAULT = Backoff()
_policies: dict[str, Backoff] = {}


def retried(
    *,
    attempts: int = DEFAULT.attempts,
    first: timedelta = DEFAULT.first,
    longest: timedelta = DEFAULT.longest,
) -> Callable[[TaskT], TaskT]:
    """Give a task its own backoff (put it above `@task()`); others get `DEFAULT`."""
    if attempts < 1:
        raise ValueError("a task is tried at least once")

    def register(task: TaskT) -> TaskT:
        _policies[task.module_path] = Backoff(attempts=attempts, first=first, longest=longest)
        return task

    return register


def policy_for(task_path: str) -> Backoff:
    if task_path not in _policies:
        try:
            import_string(task_path)  # its module registers its policy as it loads
        except ImportError:
            pass
    return _policies.get(task_path, DEFAULT)
