"""`tally serve [ADDRESS:PORT]`: the web server and the worker together, as `make run` starts
them. Ctrl-C stops both; if either stops by itself, the other is stopped too."""

import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

log = logging.getLogger(__name__)
STOP_WAIT = 30.0  # seconds a child has to stop cleanly before it is killed


class Command(BaseCommand):
    help = "Run the development web server and `tally worker` together; Ctrl-C stops both."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        tally = [sys.executable, "-m", "tally"]
        # Each child leads a process group of its own (runserver's reloader runs the
        # server in a child process), and this command signals each group once.
        children = {
            "web": subprocess.Popen([*tally, "runserver", addrport], process_group=0),  # noqa: S603
            "worker": subprocess.Popen([*tally, "worker"], process_group=0),  # noqa: S603
        }
        asked: list[int] = []
        signal.signal(signal.SIGINT, lambda signum, _: asked.append(signum))
        signal.signal(signal.SIGTERM, lambda signum, _: asked.append(signum))
        while not asked and all(c.poll() is None for c in children.values()):
            time.sleep(0.2)
        stopped = [name for name, c in children.items() if c.poll() is not None]
        if stopped and not asked:
            log.warning("the %s stopped; stopping the rest", " and ".join(stopped))
        for child in children.values():
            if child.poll() is None:
                # SIGTERM (a shell may start us with SIGINT ignored, and the children
                # with us): the worker finishes the task in hand, then stops.
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT
        for child in children.values():
            try:
                child.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not stop within %.0f s; killing it", child.pid, STOP_WAIT)
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
