"""Generation racing ingestion, on real PostgreSQL connections.

A range bills every event under the watermark, so an event still uncommitted when the
watermark is read would be covered by the range without being counted in the line.
Ingestion holds the client's row in share mode before it draws any id; generation locks
it exclusively, so it waits for the batch and counts it. The batch here has committed
its statement before generation starts; `test_a_run_during_a_batch_still_being_copied…`
catches generation in the middle of the COPY, where only that share lock keeps the
drawn ids out of the watermark (it fails without it: the line counts 1 event of 3,001).
"""

import threading

import pytest
from django.db import transaction

from tally.audit.actors import SystemActor
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tests.concurrency import at_once
from tests.factories import assert_lines_total_their_events, event_rows, generate, make_client

pytestmark = [pytest.mark.postgres_only]


def test_a_run_waits_for_a_batch_in_flight_and_bills_all_of_it(tx_db):
    acme, globex = make_client("acme-race"), make_client("globex-race")
    drawn, generating = threading.Event(), threading.Event()

    def ingest_slowly():
        with transaction.atomic():
            ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 5))
            drawn.set()  # ids drawn, not committed
            generating.wait(5)
            threading.Event().wait(0.5)

    def generate_meanwhile():
        drawn.wait(5)
        # Another client's event commits above the batch's ids. (Written directly: a
        # second batch would queue behind the first one's audit record, which hides
        # the race this test is about.)
        Event.objects.create(client=globex, **{**event_rows("pick", 1)[0], "payload_hash": "x"})
        generating.set()
        return generate(acme).invoice

    ingested, invoice = at_once(ingest_slowly, generate_meanwhile)
    assert ingested is None
    assert [(ln.quantity, ln.event_count) for ln in invoice.lines.all()] == [(5, 5)]
    assert_lines_total_their_events()


class _PausingRow(dict):
    """A row that holds its batch mid-COPY when the row check first reads it: the rows
    before it are already on the server, with ids drawn but not committed."""

    def __init__(self, row, reached, release):
        super().__init__(row)
        self._reached, self._release, self._done = reached, release, False

    def get(self, key, default=None):
        if key == "kind" and not self._done:  # the check, not the probe before the COPY
            self._done = True
            self._reached.set()
            self._release.wait(3)
        return super().get(key, default)


def test_a_run_during_a_batch_still_being_copied_waits_for_it(tx_db):
    acme, globex = make_client("acme-copy"), make_client("globex-copy")
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 1))
    reached, release = threading.Event(), threading.Event()
    rows = event_rows("pick", 3000)
    # Enough rows ahead of the pause that psycopg has sent some to the server.
    rows[-1] = _PausingRow(rows[-1], reached, release)

    def ingest():
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)

    def generate_meanwhile():
        reached.wait(5)
        assert Event.objects.count() == 1  # the batch is not committed yet
        # An event of another client commits meanwhile, above the batch's drawn ids.
        ingest_events(actor=SystemActor.TESTS, client=globex, rows=event_rows("pick", 1))
        run = threading.Thread(target=release_in_a_second)
        run.start()  # generation waits for the batch, which waits for this
        invoice = generate(acme).invoice
        run.join()
        return invoice

    def release_in_a_second():
        threading.Event().wait(1)  # with the share lock, generation is still waiting here
        release.set()

    ingested, invoice = at_once(ingest, generate_meanwhile)
    assert ingested is None
    assert [(ln.quantity, ln.event_count) for ln in invoice.lines.all()] == [(3001, 3001)]
    assert_lines_total_their_events()
