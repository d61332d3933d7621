import pytest

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.operations.models import Event
from tally.operations.services import ingest_csv, ingest_events
from tests.factories import billing_lines, event_rows

pytestmark = pytest.mark.django_db


def _deep(levels):
    value = {}
    for _ in range(levels):
        value = {"in": value}
    return value


def test_a_batch_is_stored_with_its_fields(acme):
    rows = event_rows("pick", 3, details={"sku": "SKU-1"})
    result = ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    assert (result.received, result.created, result.duplicates) == (3, 3, 0)
    stored = list(Event.objects.filter(client=acme).order_by("external_id"))
    assert [e.reference for e in stored] == [r["reference"] for r in rows]
    assert stored[0].details == {"sku": "SKU-1"}
    assert billing_lines()[stored[0].pk] == []  # not billed yet


def test_the_same_event_sent_twice_is_stored_once(acme):
    rows = event_rows("label", 5)
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    again = ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows + rows[:2])
    assert (again.created, again.duplicates) == (0, 7)
    assert Event.objects.filter(client=acme).count() == 5


def test_external_ids_are_per_client(acme, globex):
    rows = event_rows("stop", 2, prefix="shared")
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows)
    ingest_events(actor=SystemActor.TESTS, client=globex, rows=rows)
    assert Event.objects.filter(external_id="shared-0").count() == 2


def test_a_reused_id_with_a_different_payload_is_refused_and_nothing_is_written(acme):
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 1, prefix="o"))
    changed = event_rows("pick", 1, prefix="o", quantity=5)
    fresh = event_rows("pick", 2, prefix="new")
    with pytest.raises(DomainError) as err:
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=fresh + changed)
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
        ({"client": ["acme"]}, "client", "unknown client ['acme']"),
        ({"external_id": ""}, "external_id", "is required"),
        # What the database would refuse on its own, named like any other problem:
        ({"quantity": 2**63}, "quantity", f"{2**63} is too large"),
        ({"reference": "SO-1\x00"}, "reference", "contains a NUL character"),
        ({"details": {"note": "a\x00b"}}, "details", "contains a NUL character"),
        # What Python cannot work out or the databases cannot store:
        ({"occurred_at": "0001-01-01T00:00:00+05:00"}, "occurred_at", "is out of range"),
        ({"occurred_at": "9999-12-31T23:00:00-05:00"}, "occurred_at", "is out of range"),
        ({"details": '{"weight": NaN}'}, "details", "is not valid JSON"),
        ({"details": {"weight": float("inf")}}, "details", "holds NaN or Infinity"),
        ({"details": "[" * 5000 + "]" * 5000}, "details", "is not valid JSON"),
        ({"details": {"nested": _deep(5000)}}, "details", "is nested too deeply"),
    ],
)
def test_bad_input_names_the_row_and_field_and_writes_nothing(acme, change, field, message):
    rows = event_rows("pick", 3)
    rows[1].update(change)
    with pytest.raises(DomainError) as err:
        ingest_events(
            actor=SystemActor.TESTS, rows=[{**r, "client": r.get("client", "acme")} for r in rows]
        )
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
    result = ingest_csv(actor=SystemActor.TESTS, file=text)
    assert result.created == 2
    label = Event.objects.get(external_id="e-2")
    assert label.occurred_at.isoformat() == "2026-10-01T07:05:00+00:00"
    assert Event.objects.get(external_id="e-1").details == {"sku": "A"}

    bad = text.replace("acme,label", "acme,teleport").replace("e-1", "e-9").replace("e-2", "e-8")
    with pytest.raises(DomainError) as err:
        ingest_csv(actor=SystemActor.TESTS, file=bad)
    assert (err.value.problems[0].row, err.value.problems[0].field) == (3, "kind")
    assert Event.objects.count() == 2


def test_csv_without_required_columns_is_refused(acme):
    with pytest.raises(DomainError) as err:
        ingest_csv(actor=SystemActor.TESTS, file="kind,quantity\npick,1\n")
    assert {p.field for p in err.value.problems} >= {"client", "occurred_at", "external_id"}


def test_a_payload_keeps_the_fingerprint_it_had_when_first_stored(acme):
    # Computed by the first implementation; a re-send must still match events stored then.
    row = {
        "kind": "label",
        "occurred_at": "2026-10-05T14:30:00+02:00",
        "quantity": "3",
        "reference": " 1Z999AA10123456784 ",
        "external_id": "e-1",
        "details": {"carrier": "UPS", "weight_g": 1200, "note": "Zürich"},
    }
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=[row])
    stored = Event.objects.get(client=acme, external_id="e-1")
    assert stored.payload_hash == "2e8b3b80a74f3787212491202769fdc5"
    assert stored.occurred_at.isoformat() == "2026-10-05T12:30:00+00:00"
    assert stored.reference == "1Z999AA10123456784"
    assert stored.quantity == 3


def test_a_batch_mixing_new_events_and_re_sends_counts_each_and_audits_per_client(acme, globex):
    from tally.audit.models import AuditEvent

    old = event_rows("pick", 3, prefix="old")
    ingest_events(actor=SystemActor.TESTS, rows=[{**r, "client": "acme"} for r in old])
    batch = [
        *({**r, "client": "acme"} for r in old),
        *({**r, "client": "acme"} for r in event_rows("label", 2, prefix="a")),
        *({**r, "client": "globex"} for r in event_rows("label", 4, prefix="g")),
    ]
    batch.append(dict(batch[-1]))  # the same event twice in one batch
    result = ingest_events(actor=SystemActor.TESTS, rows=batch)
    assert (result.received, result.created, result.duplicates) == (10, 6, 4)
    audited = {
        a.client_id: a.data
        for a in AuditEvent.objects.filter(action="events.ingested").order_by("id")
    }
    assert '"events":2' in audited[acme.pk] and '"events":4' in audited[globex.pk]


def test_every_conflict_in_a_batch_is_named_at_its_row(acme):
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 3, prefix="c"))
    changed = event_rows("pick", 3, prefix="c", quantity=2)
    twice = event_rows("stop", 1, prefix="t")
    batch = [changed[2], *event_rows("pick", 1, prefix="n"), changed[0], twice[0]]
    batch.append({**twice[0], "quantity": 7})
    with pytest.raises(DomainError) as err:
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=batch)
    assert err.value.code == "conflicting_events"
    assert [(p.row, p.field) for p in err.value.problems] == [
        (5, "external_id"),
        (1, "external_id"),
        (3, "external_id"),
    ]
    assert "appears twice" in err.value.problems[0].message
    assert "already received from 'api'" in err.value.problems[1].message
    assert Event.objects.filter(client=acme).count() == 3


def test_two_batches_in_one_transaction_are_both_stored(acme):
    from django.db import transaction

    with transaction.atomic():
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 3))
        second = ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 2))
    assert second.created == 2
    assert Event.objects.filter(client=acme).count() == 5


def test_a_batch_refused_part_way_through_keeps_nothing_of_its_first_rows(acme):
    # On PostgreSQL rows are COPYed as they pass their check: a stored event or a bad row
    # late in the batch must undo the rows already sent, before the general path decides.
    ingest_events(actor=SystemActor.TESTS, client=acme, rows=event_rows("pick", 2, prefix="old"))
    batch = [*event_rows("label", 3, prefix="new"), *event_rows("pick", 2, prefix="old")]
    result = ingest_events(actor=SystemActor.TESTS, client=acme, rows=batch)
    assert (result.created, result.duplicates) == (3, 2)
    assert Event.objects.filter(client=acme).count() == 5

    # A bad row after rows already sent: the answer is still the full check's, naming it.
    bad = [*event_rows("stop", 3, prefix="s"), {**event_rows("stop", 1)[0], "quantity": "two"}]
    with pytest.raises(DomainError) as err:
        ingest_events(actor=SystemActor.TESTS, client=acme, rows=bad)
    assert [(p.row, p.field) for p in err.value.problems] == [(4, "quantity")]
    assert not Event.objects.filter(client=acme, kind="stop").exists()


def test_a_backslash_u0000_written_out_in_details_is_text_not_a_nul(acme):
    rows = event_rows("pick", 1, details={"note": "\\u0000 is how JSON writes NUL"})
    assert ingest_events(actor=SystemActor.TESTS, client=acme, rows=rows).created == 1
    assert Event.objects.get().details == {"note": "\\u0000 is how JSON writes NUL"}
