import calendar
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from tally.audit.actors import SystemActor
from tally.clients.queries import get_client_by_code
from tally.errors import DomainError
from tally.invoicing.services import bill_period, generate_period_invoices


def month_bounds(text: str) -> tuple[date, date]:
    try:
        year, month = (int(p) for p in text.split("-"))
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except (ValueError, TypeError):
        raise CommandError(f"--period {text!r}: expected YYYY-MM") from None


class Command(BaseCommand):
    help = "Draft invoices from unbilled events of a month, for one client or all. Safe to re-run."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the month, YYYY-MM")
        parser.add_argument(
            "--client", help="client code (default: every client with unbilled events)"
        )

    def handle(self, *args, **options):
        start, end = month_bounds(options["period"])
        try:
            if options["client"]:
                client = get_client_by_code(options["client"])
                results = [
                    bill_period(
                        actor=SystemActor.COMMAND_LINE,
                        client=client,
                        period_start=start,
                        period_end=end,
                    )
                ]
            else:
                results = generate_period_invoices(
                    actor=SystemActor.COMMAND_LINE, period_start=start, period_end=end
                )
        except DomainError as e:
            raise CommandError(str(e)) from None
        drafts = 0
        for r in results:
            inv = r.invoice
            if inv is None:
                self.stdout.write(f"{r.client.code}: nothing to bill, no draft made")
            else:
                drafts += 1
                self.stdout.write(
                    f"{inv.display_number}: {inv.lines.count()} lines, total {inv.total_minor} "
                    f"minor units {inv.currency}"
                )
            for u in r.unrated:
                self.stdout.write(
                    f"  not rated: {u.events} {u.kind} events (quantity {u.quantity}) have no price"
                )
        self.stdout.write(f"{drafts} draft invoice(s) generated for {options['period']}")
