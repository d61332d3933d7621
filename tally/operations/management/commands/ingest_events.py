from django.core.management.base import BaseCommand, CommandError

from tally.audit.actors import SystemActor
from tally.clients.queries import get_client_by_code
from tally.errors import DomainError
from tally.operations.services import ingest_csv


class Command(BaseCommand):
    help = "Ingest a CSV file of operational events. Re-sending the same file is harmless."

    def add_arguments(self, parser):
        parser.add_argument(
            "file",
            help="CSV with columns client,kind,occurred_at,quantity,reference,external_id[,details,source]",
        )
        parser.add_argument("--client", help="client code, when the file has no client column")
        parser.add_argument(
            "--source", default="csv", help="where the events come from (default: csv)"
        )

    def handle(self, *args, **options):
        try:
            client = get_client_by_code(options["client"]) if options["client"] else None
            with open(options["file"], newline="", encoding="utf-8-sig") as handle:
                result = ingest_csv(
                    actor=SystemActor.COMMAND_LINE,
                    file=handle,
                    client=client,
                    source=options["source"],
                )
        except DomainError as e:
            raise CommandError(str(e)) from None
        except OSError as e:
            raise CommandError(f"cannot read {options['file']}: {e.strerror}") from None
        self.stdout.write(
            f"{result.received} rows: {result.created} new events, {result.duplicates} already received"
        )
