"""Two batches racing to store the same event id, on real PostgreSQL connections."""

import threading

import pytest
from django.db import transaction

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tests.concurrency import at_once
from tests.factories import event_rows, make_client

pytestmark = [pytest.mark.postgres_only]


def test_a_conflicting_batch_that_loses_the_race_is_still_refused(tx_db):
    client = make_client("race")
    first = event_rows("pick", 1, prefix="k")
    second = [{**first[0], "quantity": 9}, *event_rows("pick", 2, prefix="other")]
    stored = threading.Event()

    def send_first():
        with transaction.atomic():
            ingest_events(actor=SystemActor.TESTS, client=client, rows=first)
            stored.set()
            # Hold the uncommitted event while the second batch tries to store its own.
            threading.Event().wait(0.5)

    def send_second():
        stored.wait(5)
        return ingest_events(actor=SystemActor.TESTS, client=client, rows=second)

    first_outcome, result = at_once(send_first, send_second)
    assert first_outcome is None
    assert isinstance(result, DomainError) and result.code == "conflicting_events"
    assert result.problems[0].row == 1
    assert list(Event.objects.filter(client=client).values_list("quantity", flat=True)) == [1]
