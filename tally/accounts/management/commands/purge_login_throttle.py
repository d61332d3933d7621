"""`tally purge-login-throttle`: drop sign-in counters idle for a day (run it daily from cron)."""

from typing import Any

from django.core.management.base import BaseCommand

from tally.accounts import throttle


class Command(BaseCommand):
    help = "Delete sign-in throttle counters with no failure for a day and no lock in force."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = throttle.purge()
        self.stdout.write(f"purged {deleted} sign-in counter(s)")
