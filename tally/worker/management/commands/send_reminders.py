"""`tally send-reminders`: the due reminders now, for cron (the worker sends them every 15
minutes by itself). Here, not in tally.reminders, because each email carries the invoice's
PDF, which the portal draws."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from tally.reminders.services import send_due_reminders
from tally.worker.emails import invoice_pdf


class Command(BaseCommand):
    help = (
        "Send the reminder emails that are due, at most once per step. Safe to run from cron "
        "and to run twice at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--today",
            help="YYYY-MM-DD: treat this as today for every client "
            "(default: each client's own date in its time zone)",
        )

    def handle(self, *args, **options):
        today = None
        if options["today"]:
            try:
                today = date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(f"--today {options['today']!r}: expected YYYY-MM-DD") from None
        report = send_due_reminders(today=today, attach=invoice_pdf)
        self.stdout.write(report.summary())
