"""Test code on several real database connections at once (the concurrency tests)."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def at_once(*works: Callable[[], Any], timeout: float = 30) -> list[Any]:
    """Run each work in a thread of its own — so on a database connection of its own,
    closed when it ends — all released together; return what each returned or raised,
    in order. A test asserts on the outcomes: an exception is one, never lost."""
    start = threading.Barrier(len(works))
    outcomes: list[Any] = [None] * len(works)

    def run(i: int) -> None:
        try:
            start.wait()
            outcomes[i] = works[i]()
        except Exception as e:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[i] = e
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return outcomes


def raised(outcomes: list[Any]) -> list[Exception]:
    return [o for o in outcomes if isinstance(o, Exception)]
