"""Email a request should not wait for.

A password-reset request gets the same answer whether or not the address has an account;
if the request also waited for the mail server, its timing would say which
(bench/RESULTS.md, "Measured in passing"). So the message is handed to a small pool of
threads and the response goes out at once.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from django.conf import settings

log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tally-mail")
_pending: set[Future[None]] = set()
_lock = threading.Lock()


def _run(send: Callable[[], None]) -> None:
    try:
        send()
    except Exception:  # a failed send must not vanish silently
        log.exception("sending an email in the background failed")


def send_soon(send: Callable[[], None]) -> None:
    """Run `send` now when settings say so (TALLY_MAIL_IN_BACKGROUND=0), else in the pool."""
    if not settings.TALLY_MAIL_IN_BACKGROUND:
        send()
        return
    future = _pool.submit(_run, send)
    with _lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _lock:
        _pending.discard(future)


def drain(timeout: float = 10.0) -> None:
    """Wait for every email handed over so far (tests, and a clean shutdown)."""
    with _lock:
        pending = set(_pending)
    wait(pending, timeout=timeout)
