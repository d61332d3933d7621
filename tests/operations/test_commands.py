from datetime import date

import pytest
from django.core.management import CommandError, call_command

from tally.invoicing.models import Invoice
from tally.operations.models import Event

pytestmark = pytest.mark.django_db

CSV = (
    "client,kind,occurred_at,quantity,reference,external_id\n"
    "acme,pick,2026-10-03T09:00:00Z,3,ORD-1001,wms-1\n"
    "acme,label,2026-10-03T09:10:00Z,1,1Z999AA10123456784,wms-2\n"
    "globex,stop,2026-10-04T14:00:00Z,1,12 Dock Rd,tms-1\n"
)


def test_ingest_events_command_is_idempotent_and_reports_counts(acme, globex, tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    call_command("ingest_events", str(path))
    call_command("ingest_events", str(path))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "3 rows: 3 new events, 0 already received",
        "3 rows: 0 new events, 3 already received",
    ]
    assert Event.objects.count() == 3


def test_ingest_events_command_names_the_bad_row(acme, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        CSV.replace("acme,label,2026-10-03T09:10:00Z,1", "acme,label,2026-10-03T09:10:00Z,-1")
    )
    with pytest.raises(
        CommandError, match=r"row 3, field 'quantity': -1 is not a positive quantity"
    ):
        call_command("ingest_events", str(path))
    assert Event.objects.count() == 0


def test_ingest_events_command_refuses_a_file_that_is_not_utf8_and_says_how_to_fix_it(
    acme, tmp_path
):
    path = tmp_path / "excel.csv"
    path.write_bytes(CSV.replace("ORD", "Café ORD").encode("cp1252"))
    with pytest.raises(
        CommandError, match=r"not UTF-8 text \(byte 0xE9\): save it as \"CSV UTF-8\""
    ):
        call_command("ingest_events", str(path))
    assert Event.objects.count() == 0


def test_ingest_events_command_names_the_line_of_a_field_too_long_to_read(acme, tmp_path):
    path = tmp_path / "long.csv"
    lines = CSV.splitlines()
    lines[0] += ",details"
    lines[1] += ',"{""note"": ""two\nlines""}"'  # a record of two lines: row 2 still
    lines[2] += ',"' + "x" * 200_000 + '"'
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=r"the CSV cannot be read: row 3: field larger than"):
        call_command("ingest_events", str(path))
    assert Event.objects.count() == 0


def test_generate_invoices_command_drafts_one_invoice_per_client_with_events(
    acme, globex, tmp_path, capsys
):
    path = tmp_path / "events.csv"
    path.write_text(CSV)
    call_command("ingest_events", str(path))
    call_command("generate_invoices", "--period", "2026-10")
    assert sorted(Invoice.objects.values_list("client__code", "total_minor")) == [
        ("acme", 110),
        ("globex", 1250),
    ]
    call_command("generate_invoices", "--period", "2026-10")
    assert Invoice.objects.count() == 2  # nothing left to bill: no empty drafts
    with pytest.raises(CommandError, match="expected YYYY-MM"):
        call_command("generate_invoices", "--period", "October")


def test_events_without_a_price_are_reported_on_every_run_and_leave_no_empty_draft(capsys):
    from tests.factories import add_events, make_client

    unpriced = make_client("no-stops", prices={"pick": "0.3500"})
    add_events(unpriced, "stop", 4, day=date(2026, 10, 6))
    for options in (["--client", "no-stops"], [], []):
        call_command("generate_invoices", "--period", "2026-10", *options)
        out = capsys.readouterr().out
        assert "no-stops: nothing to bill, no draft made" in out
        assert "not rated: 4 stop events (quantity 4) have no price" in out
        assert "0 draft invoice(s) generated for 2026-10" in out
    assert not Invoice.objects.filter(client=unpriced).exists()
