from django.core.management.base import BaseCommand

from tally.accounts.models import User
from tally.clients.models import Client
from tally.demo.builder import DEMO_PASSWORD, build


class Command(BaseCommand):
    help = "Build the demo 3PL (clients, six months of events, invoices in every state) and print logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when clients already exist"
        )

    def handle(self, *args, **options):
        if Client.objects.exists():
            if options["if_empty"]:
                self.stdout.write("Demo data: the database already has clients; left as it is.")
                self._print_logins()
                return
            self.stderr.write(
                "The database already has clients; use an empty database for the demo."
            )
            raise SystemExit(1)
        self.stdout.write("Building the demo 3PL (this takes a few seconds)…")
        build()
        self._print_logins()

    def _print_logins(self):
        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        for user in User.objects.select_related("client").order_by("role", "email"):
            who = user.client.name if user.client else user.get_role_display()
            self.stdout.write(f"  {user.get_role_display():<15} {user.email:<36} {who}")
