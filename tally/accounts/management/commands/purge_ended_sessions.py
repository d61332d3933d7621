"""`tally purge-ended-sessions`: drop expired sessions and their names (run it daily from cron)."""

from typing import Any

from django.core.management.base import BaseCommand

from tally.accounts import services


class Command(BaseCommand):
    help = "Delete expired sessions, and the names (browser, address) of sessions that ended."

    def handle(self, *args: Any, **options: Any) -> None:
        forgotten = services.purge_ended_sessions()
        self.stdout.write(f"forgot {forgotten} ended session(s)")
