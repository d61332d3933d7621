"""`make run` runs `tally serve`: the web server and the worker, stopped together by Ctrl-C."""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.reminders.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own server
            return response.status == 200
    except OSError:
        return False


def _workers(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM worker_workerprocess").fetchone()[0]


@pytest.mark.sqlite_only
def test_serve_runs_the_web_server_and_the_worker_and_one_ctrl_c_stops_both(tmp_path):
    # make run's own setup, in a var dir of the test's: SQLite, migrated.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TALLY_VAR_DIR"] = str(tmp_path)
    tally = [sys.executable, "-m", "tally"]
    subprocess.run([*tally, "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)  # noqa: S603
    port = free_port()
    login = f"http://127.0.0.1:{port}/accounts/login/"
    database = tmp_path / "tally.sqlite3"

    serve = subprocess.Popen(  # noqa: S603 - fixed arguments
        [*tally, "serve", f"127.0.0.1:{port}"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while not (_answers(login) and _workers(database) == 1):
            assert serve.poll() is None, serve.communicate()[0]
            time.sleep(0.2)
        serve.send_signal(signal.SIGINT)  # what Ctrl-C sends
        output = serve.communicate(timeout=60)[0]
    finally:
        if serve.poll() is None:
            serve.terminate()
            serve.communicate(timeout=60)

    assert serve.returncode == 0, output
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert _workers(database) == 0, output  # the worker stopped cleanly and said so
