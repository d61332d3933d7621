"""Run a `tally` command in a process of its own, on the test run's database and calendar.

    python tests/worker/launch_worker.py worker --batch ...

The test passes the test database's name (TALLY_TEST_DATABASE_NAME) and how far the tests'
clock is behind the machine's (TALLY_TEST_CLOCK_BEHIND, seconds; see tests/conftest.py).
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tally.settings")
    from django.conf import settings

    settings.DATABASES["default"]["NAME"] = os.environ["TALLY_TEST_DATABASE_NAME"]
    from django.utils import timezone

    real_now = timezone.now
    behind = timedelta(seconds=float(os.environ["TALLY_TEST_CLOCK_BEHIND"]))
    timezone.now = lambda: real_now() - behind

    from django.core.management import execute_from_command_line

    execute_from_command_line(["tally", *sys.argv[1:]])


if __name__ == "__main__":
    main()
