"""The CSVs as a spreadsheet reads them: words for kinds and statuses, the client's
local time, and an event's details in columns of their own, streamed."""

import csv
import io
from datetime import date

import pytest
from django.db import connection
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tally.accounts.models import Role
from tally.audit.actors import SystemActor
from tally.operations.services import ingest_events
from tally.portal.queries import events as event_queries
from tests.factories import event_rows, issued_invoice, make_client, make_user, pay

pytestmark = pytest.mark.django_db


def signed_in(client) -> HttpClient:
    browser = HttpClient()
    browser.force_login(make_user(role=Role.CLIENT_USER, client=client))
    return browser


def read_csv(response) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_invoice_statuses_are_written_as_the_table_shows_them(acme):
    partly = issued_invoice(acme, picks=100)  # 35.00
    pay(acme, 1000, invoice=partly)
    paid = issued_invoice(acme, picks=10, period=(date(2026, 9, 1), date(2026, 9, 30)))
    pay(acme, 350, invoice=paid)
    rows = read_csv(signed_in(acme).get(reverse("portal:invoices_csv"), {"sort": "amount"}))
    assert rows[0] == [
        "Invoice", "Issue date", "Due date", "Status", "Currency", "Total", "Balance",
    ]  # fmt: skip
    assert {r[0]: (r[3], r[5], r[6]) for r in rows[1:]} == {
        partly.display_number: ("Partially paid", "35.00", "25.00"),
        paid.display_number: ("Paid", "3.50", "0.00"),
    }


def test_event_kinds_are_words_times_local_and_details_columns_of_their_own():
    client = make_client("tokyo", time_zone="Asia/Tokyo")
    rows = event_rows("label", 3, day=date(2026, 10, 5))  # 12:00:00 UTC → 21:00 in Tokyo
    rows[0]["details"] = {"carrier": "UPS", "weight_kg": 1.5}
    rows[1]["details"] = {"carrier": "FedEx", "service": "Ground", "dims": {"l": 30, "w": 20}}
    ingest_events(actor=SystemActor.TESTS, client=client, rows=rows)
    invoice = issued_invoice(client, picks=0)
    line = invoice.lines.get()
    response = signed_in(client).get(
        reverse("portal:line_events_csv", args=[invoice.display_number, line.pk])
    )
    assert response.streaming
    table = read_csv(response)
    assert table[0] == [
        "When (Asia/Tokyo)", "Kind", "Reference", "Quantity",
        "carrier", "dims", "service", "weight_kg",
    ]  # fmt: skip
    assert table[1:] == [
        ["2026-10-05 21:00:00", "Shipping label", rows[0]["reference"], "1", "UPS", "", "", "1.5"],
        [
            "2026-10-05 21:00:01", "Shipping label", rows[1]["reference"], "1",
            "FedEx", '{"l":30,"w":20}', "Ground", "",
        ],
        ["2026-10-05 21:00:02", "Shipping label", rows[2]["reference"], "1", "", "", "", ""],
    ]  # fmt: skip


def test_the_detail_keys_are_read_in_the_clients_scope_only(acme, globex):
    mine = event_rows("pick", 2, day=date(2026, 10, 3), details={"zone": "A1"})
    theirs = event_rows("pick", 2, day=date(2026, 10, 3), details={"secret_field": "x"})
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=mine)
    ingest_events(actor=SystemActor.TESTS, client=globex, rows=theirs)
    ours = issued_invoice(acme, picks=0)
    other = issued_invoice(globex, picks=0)
    assert event_queries.line_detail_keys(acme.pk, ours.lines.get().pk) == ["zone"]
    from tally.errors import NotFound

    with pytest.raises(NotFound):
        event_queries.line_detail_keys(acme.pk, other.lines.get().pk)


def test_a_large_line_streams_a_page_of_events_at_a_time(acme, monkeypatch):
    """12,345 events: the response reads them a keyset page at a time as it is consumed,
    never all at once."""
    n = 12_345
    rows = event_rows("pick", n, day=date(2026, 10, 3))
    for i, row in enumerate(rows):
        row["details"] = {"bin": f"B-{i % 7}"} if i % 2 else {"wave": i % 3}
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    invoice = issued_invoice(acme, picks=0)
    line = invoice.lines.get()
    assert line.event_count == n
    browser = signed_in(acme)
    with CaptureQueriesContext(connection) as before_reading:
        response = browser.get(
            reverse("portal:line_events_csv", args=[invoice.display_number, line.pk])
        )
    chunks = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as first_rows:
        head = [next(chunks) for _ in range(2)]
    assert head[0].decode().strip() == "When (UTC),Kind,Reference,Quantity,bin,wave"
    assert head[1].decode().startswith("2026-10-03 12:00:00,Pick,")
    # Before the body is read, no page of events; then only the first: 5,000 of 12,345.
    assert not [sql for sql in event_pages(before_reading) if "LIMIT 5001" in sql]
    assert [sql[-10:] for sql in event_pages(first_rows)] == ["LIMIT 5001"]
    with CaptureQueriesContext(connection) as the_rest:
        rest = b"".join(chunks).decode()
    table = list(csv.reader(io.StringIO(b"".join(head).decode() + rest)))
    assert len(table) == n + 1
    assert [r[2] for r in table[1:]] == [r["reference"] for r in rows]
    assert table[2][4:] == ["B-1", ""] and table[3][4:] == ["", "2"]
    assert len(event_pages(the_rest)) == 2  # events 5,001–10,000 and 10,001–12,345


def event_pages(queries: CaptureQueriesContext) -> list[str]:
    """The statements that read a page of events."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT")
        and '"operations_event"' in q["sql"]
        and "LIMIT" in q["sql"]
    ]


def test_each_csv_is_a_file_to_save_under_its_own_name(acme):
    browser = signed_in(acme)
    for url, stem in (
        (reverse("portal:invoices_csv"), "invoices"),
        (reverse("portal:aging_csv"), "aging"),
    ):
        disposition = browser.get(url)["Content-Disposition"]
        assert disposition.startswith(f'attachment; filename="{stem}-acme-'), disposition
        assert disposition.endswith('.csv"'), disposition
