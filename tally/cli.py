"""The `tally` command line: Django's management commands, with dashes allowed.

`tally send-reminders` runs the `send_reminders` command, `tally verify-audit` runs
`verify_audit`, and so on; every Django command works too.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tally.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    argv[0] = "tally"
    execute_from_command_line(argv)
