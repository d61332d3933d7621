import asyncio
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.db import connection
from django.utils import timezone

from tally.worker.runner import TallyWorker
from tests.reminders.conftest import Received, RecordingHandler, free_port

LAUNCHER = Path(__file__).with_name("launch_worker.py")


def run_worker(*, periodic: bool = False, worker_id: str = "in-process") -> None:
    """A worker in this process that runs what is ready, then stops (as `--batch`)."""
    TallyWorker(
        periodic=periodic,
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    ).run()


def worker_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`tally worker …` in a process of its own, on this test's database and calendar."""
    behind = (datetime.now(UTC) - timezone.now()).total_seconds()
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [sys.executable, str(LAUNCHER), "worker", "--no-startup-delay", *args],
        env={
            **os.environ,
            "TALLY_TEST_DATABASE_NAME": str(connection.settings_dict["NAME"]),
            "TALLY_TEST_CLOCK_BEHIND": str(behind),
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@dataclass
class HoldingHandler(RecordingHandler):
    """Keeps each message; the `hold`-th it keeps and then does not answer until released
    (the sender is then in the middle of sending it)."""

    hold: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    env: dict[str, str] = field(default_factory=dict)  # for a worker process to use it

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
            )
            held = len(self.messages) == self.hold
        if held:
            self.arrived.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"


@pytest.fixture
def holding_smtp():
    """A real SMTP server on 127.0.0.1 that holds one message; the environment a worker
    process needs to send through it."""
    handler = HoldingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.env = {
        "TALLY_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "TALLY_EMAIL_HOST": "127.0.0.1",
        "TALLY_EMAIL_PORT": str(controller.port),
    }
    yield handler
    handler.release.set()
    controller.stop()
