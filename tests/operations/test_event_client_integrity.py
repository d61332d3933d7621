"""An event always belongs to a client that exists, whoever writes the rows.

On SQLite a foreign key says so; on PostgreSQL statement triggers do (operations
migration 0007: one set-based check per statement instead of one lookup per event).
These write around the application, with real commits, and expect the database to refuse.
"""

import pytest
from django.db import IntegrityError, connection, transaction

from tally.audit.actors import SystemActor
from tally.clients.models import Client
from tally.operations.models import Event
from tally.operations.services import ingest_events
from tests.concurrency import at_once
from tests.factories import event_rows

_INSERT = (
    "INSERT INTO operations_event (client_id, kind, occurred_at, quantity, reference, "
    "details, source, external_id, payload_hash, ingested_at) VALUES "
)
_ROW = "(%s, 'pick', '2026-03-02 10:00:00', 1, 'SO-1', '{}', 'raw', %s, 'h', '2026-03-02 10:00:00')"


def _bare_client(code: str) -> Client:
    """A client row and nothing else that points at it."""
    return Client.objects.create(name=code.title(), code=code, currency="USD")


def _raw_insert(*rows: tuple[int, str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT + ", ".join([_ROW] * len(rows)),  # noqa: S608 (placeholders only)
            [value for row in rows for value in row],
        )


def test_an_event_naming_a_missing_client_is_refused_with_its_whole_statement(tx_db):
    client = _bare_client("real")
    missing = client.pk + 1000
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_insert((client.pk, "fine-1"), (missing, "orphan-1"))
    assert not Event.objects.exists()

    _raw_insert((client.pk, "fine-2"))  # the check passes a client that exists
    assert list(Event.objects.values_list("external_id", flat=True)) == ["fine-2"]


def test_an_event_cannot_be_moved_to_a_missing_client(tx_db):
    client = _bare_client("mover")
    _raw_insert((client.pk, "e-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE operations_event SET client_id = %s WHERE client_id = %s",
                [client.pk + 1000, client.pk],
            )
    assert Event.objects.get().client_id == client.pk


def test_a_client_with_events_cannot_be_deleted_or_renumbered(tx_db):
    keeps = _bare_client("keeps")
    ingest_events(actor=SystemActor.TESTS, client=keeps, rows=event_rows("pick", 2))
    for sql, params in [
        ("DELETE FROM clients_client WHERE id = %s", [keeps.pk]),
        ("UPDATE clients_client SET id = %s WHERE id = %s", [keeps.pk + 1000, keeps.pk]),
    ]:
        with pytest.raises(IntegrityError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
    assert Event.objects.filter(client_id=keeps.pk).count() == 2

    # The refusal is about the events: a client without any goes.
    empty = _bare_client("empty")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM clients_client WHERE id = %s", [empty.pk])
    assert not Client.objects.filter(pk=empty.pk).exists()


@pytest.mark.postgres_only
def test_a_client_deleted_while_its_events_are_being_stored_is_not_orphaning_them(tx_db):
    # The statement check locks the client in KEY SHARE mode, as a foreign key would: the
    # delete waits for the events to commit, then sees them and is refused.
    import threading

    client = _bare_client("racing")
    stored = threading.Event()

    def store() -> None:
        with transaction.atomic():
            # Around the service, which takes its own share lock on the client.
            _raw_insert(*((client.pk, f"r-{n}") for n in range(3)))
            stored.set()
            threading.Event().wait(0.5)  # hold the uncommitted events

    def delete() -> None:
        stored.wait(5)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM clients_client WHERE id = %s", [client.pk])

    stored_outcome, deleted_outcome = at_once(store, delete)
    assert stored_outcome is None and isinstance(deleted_outcome, IntegrityError)
    assert Client.objects.filter(pk=client.pk).exists()
    assert Event.objects.filter(client_id=client.pk).count() == 3


@pytest.mark.postgres_only
def test_truncating_clients_while_events_remain_is_refused(tx_db):
    client = _bare_client("truncated")
    _raw_insert((client.pk, "t-1"))
    with pytest.raises(IntegrityError, match="clients truncated while events remain"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE clients_client CASCADE")
    assert Event.objects.filter(client_id=client.pk).count() == 1


@pytest.mark.postgres_only
def test_a_client_is_deleted_under_read_committed_only(tx_db):
    # Under REPEATABLE READ the trigger's query would see the transaction's snapshot and
    # could miss events committed since; PostgreSQL's own check would not, so refuse.
    from django.db import OperationalError

    client = _bare_client("snapshot")
    with pytest.raises(OperationalError, match="READ COMMITTED only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("DELETE FROM clients_client WHERE id = %s", [client.pk])
    assert Client.objects.filter(pk=client.pk).exists()
