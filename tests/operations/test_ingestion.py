import pytest

from tally.errors import DomainError
from tally.operations.models import Event
from tally.operations.services import ingest_csv, ingest_events
from tests.factories import event_rows

pytestmark = pytest.mark.django_db


def test_a_batch_is_stored_with_its_fields(acme):
    rows = event_rows("pick", 3, details={"sku": "SKU-1"})
    result = ingest_events(actor=None, client=acme, rows=rows)
    assert (result.received, result.created, result.duplicates) == (3, 3, 0)
    stored = list(Event.objects.filter(client=acme).order_by("external_id"))
    assert [e.reference for e in stored] == [r["reference"] for r in rows]
    assert stored[0].details == {"sku": "SKU-1"}
    assert stored[0].line_id is None


def test_the_same_event_sent_twice_is_stored_once(acme):
    rows = event_rows("label", 5)
    ingest_events(actor=None, client=acme, rows=rows)
    again = ingest_events(actor=None, client=acme, rows=rows + rows[:2])
    assert (again.created, again.duplicates) == (0, 7)
    assert Event.objects.filter(client=acme).count() == 5


def test_external_ids_are_per_client(acme, globex):
    rows = event_rows("stop", 2, prefix="shared")
    ingest_events(actor=None, client=acme, rows=rows)
    ingest_events(actor=None, client=globex, rows=rows)
    assert Event.objects.filter(external_id="shared-0").count() == 2


def test_a_reused_id_with_a_different_payload_is_refused_and_nothing_is_written(acme):
    ingest_events(actor=None, client=acme, rows=event_rows("pick", 1, prefix="o"))
    changed = event_rows("pick", 1, prefix="o", quantity=5)
    fresh = event_rows("pick", 2, prefix="new")
    with pytest.raises(DomainError) as err:
        ingest_events(actor=None, client=acme, rows=fresh + changed)
    assert err.value.code == "conflicting_events"
    assert err.value.problems[0].row == 3
    assert err.value.problems[0].field == "external_id"
    assert Event.objects.filter(client=acme).count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kind": "teleport"}, "kind", "unknown kind 'teleport'"),
        ({"quantity": -2}, "quantity", "-2 is not a positive quantity"),
        ({"quantity": "two"}, "quantity", "'two' is not a whole number"),
        ({"quantity": "1.5"}, "quantity", "'1.5' is not a whole number"),
        ({"occurred_at": "yesterday"}, "occurred_at", "'yesterday' is not an ISO 8601 timestamp"),
        ({"occurred_at": "2026-10-01T10:00:00"}, "occurred_at", "has no time zone offset"),
        ({"client": "nobody"}, "client", "unknown client 'nobody'"),
        ({"external_id": ""}, "external_id", "is required"),
    ],
)
def test_bad_input_names_the_row_and_field_and_writes_nothing(acme, change, field, message):
    rows = event_rows("pick", 3)
    rows[1].update(change)
    with pytest.raises(DomainError) as err:
        ingest_events(actor=None, rows=[{**r, "client": r.get("client", "acme")} for r in rows])
    problem = err.value.problems[0]
    assert (problem.row, problem.field) == (2, field)
    assert message in problem.message
    assert f"row 2, field '{field}'" in str(err.value)
    assert Event.objects.count() == 0


def test_csv_ingestion_counts_the_header_as_row_one(acme):
    text = (
        "client,kind,occurred_at,quantity,reference,external_id,details\n"
        'acme,pick,2026-10-01T09:00:00Z,2,ORD-1,e-1,"{""sku"": ""A""}"\n'
        "acme,label,2026-10-01T09:05:00+02:00,1,1Z999,e-2,\n"
    )
    result = ingest_csv(actor=None, file=text)
    assert result.created == 2
    label = Event.objects.get(external_id="e-2")
    assert label.occurred_at.isoformat() == "2026-10-01T07:05:00+00:00"
    assert Event.objects.get(external_id="e-1").details == {"sku": "A"}

    bad = text.replace("acme,label", "acme,teleport").replace("e-1", "e-9").replace("e-2", "e-8")
    with pytest.raises(DomainError) as err:
        ingest_csv(actor=None, file=bad)
    assert (err.value.problems[0].row, err.value.problems[0].field) == (3, "kind")
    assert Event.objects.count() == 2


def test_csv_without_required_columns_is_refused(acme):
    with pytest.raises(DomainError) as err:
        ingest_csv(actor=None, file="kind,quantity\npick,1\n")
    assert {p.field for p in err.value.problems} >= {"client", "occurred_at", "external_id"}
