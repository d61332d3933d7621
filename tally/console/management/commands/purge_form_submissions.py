"""`tally purge-form-submissions`: forget the console's one-time form keys claimed a month
ago (the worker does it daily; run it from cron with `tally worker --no-periodic`)."""

from typing import Any

from django.core.management.base import BaseCommand

from tally.console.services.submissions import KEEP_FOR, purge_submissions


class Command(BaseCommand):
    help = f"Delete the console's one-time form keys claimed more than {KEEP_FOR.days} days ago."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = purge_submissions()
        self.stdout.write(f"purged {deleted} form key(s)")
