"""Generation racing ingestion, on real PostgreSQL connections.

A range bills every event under the watermark, so an event still uncommitted when the
watermark is read would be covered by the range without being counted in the line.
Ingestion holds the client's row in share mode before it draws any id; generation locks
it exclusively, so it waits for the batch and counts it. (Without the share lock this
test fails: the run deadlocks with the batch's commit-time foreign-key check.)
"""

import threading

import pytest
from django.db import connection, transaction

from tally.invoicing.services import generate_draft_invoice
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tests.factories import assert_lines_total_their_events, event_rows, make_client
from tests.invoicing.test_billed_ranges import OCT

pytestmark = [pytest.mark.postgres_only]


def test_a_run_waits_for_a_batch_in_flight_and_bills_all_of_it(tx_db):
    acme, globex = make_client("acme-race"), make_client("globex-race")
    drawn, generating = threading.Event(), threading.Event()
    results: list = []

    def ingest_slowly():
        try:
            with transaction.atomic():
                ingest_events(actor=None, client=acme, rows=event_rows("pick", 5))
                drawn.set()  # ids drawn, not committed
                generating.wait(5)
                threading.Event().wait(0.5)
        finally:
            connection.close()

    def generate_meanwhile():
        try:
            drawn.wait(5)
            # Another client's event commits above the batch's ids. (Written directly: a
            # second batch would queue behind the first one's audit record, which hides
            # the race this test is about.)
            Event.objects.create(client=globex, **{**event_rows("pick", 1)[0], "payload_hash": "x"})
            generating.set()
            results.append(
                generate_draft_invoice(
                    actor=None, client=acme, period_start=OCT[0], period_end=OCT[1]
                ).invoice
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=ingest_slowly), threading.Thread(target=generate_meanwhile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [invoice] = results
    assert [(ln.quantity, ln.event_count) for ln in invoice.lines.all()] == [(5, 5)]
    assert_lines_total_their_events()
