"""On PostgreSQL, an event's client is checked once per statement, not once per event.

PostgreSQL checks a foreign key row by row: one lookup per event, queued until commit,
2.7 µs of server CPU per event — a quarter of what storing an event costs
(bench/RESULTS.md, "Ingestion in stop 7"). This replaces that constraint with triggers
that keep the same guarantee:

* after each INSERT (and UPDATE) on events, one set-based query over the statement's new
  rows checks that every client they name exists, and locks those clients in KEY SHARE
  mode until commit — the lock the foreign key takes, so a concurrent delete waits;
* before a client is deleted or renumbered, a row trigger refuses if it has events; and
  TRUNCATE of clients (which fires no row trigger) is refused while events remain.

All raise `foreign_key_violation`, so the application sees an IntegrityError as before.
Two differences from the constraint it replaces: the check runs at the end of each
statement, where the constraint waited for commit (nothing in Tally inserts an event
before its client); and a delete of a client is refused outright outside READ COMMITTED,
because a trigger's query sees only its transaction's snapshot — it could miss events
committed since, where PostgreSQL's own check would not. The functions pin their
search_path to the schema they were made in. They run as the writing user, under row
security where it applies (the foreign key's own checks bypass it): the application's
policies let it see every row, so nothing is hidden from them.

SQLite keeps its foreign key: there the check is a cheap lookup in-process. Django's
migration state still has the constraint (it is the same relation to the ORM); on
PostgreSQL the database enforces it with these triggers.
"""

from django.db import migrations

FK_NAME = "operations_event_client_id_30f4d93b_fk_clients_client_id"

INSTALL = [
    # The constraint Django made, whatever its name on this database.
    """
    DO $$
    DECLARE fk text;
    BEGIN
        FOR fk IN SELECT conname FROM pg_constraint
                  WHERE conrelid = 'operations_event'::regclass AND contype = 'f'
                    AND confrelid = 'clients_client'::regclass
        LOOP
            EXECUTE format('ALTER TABLE operations_event DROP CONSTRAINT %I', fk);
        END LOOP;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION tally_events_name_clients() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    DECLARE
        named bigint;
        locked bigint;
    BEGIN
        SELECT count(DISTINCT client_id) INTO named FROM new_events;
        SELECT count(*) INTO locked FROM (
            SELECT 1 FROM clients_client
            WHERE id IN (SELECT client_id FROM new_events)
            FOR KEY SHARE
        ) AS c;
        IF locked < named THEN
            RAISE EXCEPTION 'an event names a client that does not exist'
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'event_client_exists';
        END IF;
        RETURN NULL;
    END $$
    """,
    # A trigger with transition tables serves one event only: one for INSERT (COPY
    # included), one for UPDATE.
    """
    CREATE TRIGGER event_client_exists AFTER INSERT ON operations_event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION tally_events_name_clients()
    """,
    """
    CREATE TRIGGER event_client_exists_on_update AFTER UPDATE ON operations_event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION tally_events_name_clients()
    """,
    """
    CREATE OR REPLACE FUNCTION tally_client_keeps_events() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'delete or renumber a client under READ COMMITTED only'
                USING ERRCODE = 'serialization_failure',
                      HINT = 'a snapshot cannot see events committed after it was taken';
        END IF;
        IF EXISTS (SELECT 1 FROM operations_event WHERE client_id = OLD.id) THEN
            RAISE EXCEPTION 'client % has events', OLD.id
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'event_client_exists';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER client_keeps_events BEFORE DELETE ON clients_client
    FOR EACH ROW EXECUTE FUNCTION tally_client_keeps_events()
    """,
    """
    CREATE TRIGGER client_keeps_events_id BEFORE UPDATE OF id ON clients_client
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION tally_client_keeps_events()
    """,
    # AFTER, so that one TRUNCATE of both tables (Django's flush) goes through.
    """
    CREATE OR REPLACE FUNCTION tally_clients_truncated() RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM operations_event) THEN
            RAISE EXCEPTION 'clients truncated while events remain'
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'event_client_exists';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER clients_truncated AFTER TRUNCATE ON clients_client
    FOR EACH STATEMENT EXECUTE FUNCTION tally_clients_truncated()
    """,
]

REMOVE = [
    "DROP TRIGGER IF EXISTS clients_truncated ON clients_client",
    "DROP FUNCTION IF EXISTS tally_clients_truncated()",
    "DROP TRIGGER IF EXISTS client_keeps_events_id ON clients_client",
    "DROP TRIGGER IF EXISTS client_keeps_events ON clients_client",
    "DROP FUNCTION IF EXISTS tally_client_keeps_events()",
    "DROP TRIGGER IF EXISTS event_client_exists_on_update ON operations_event",
    "DROP TRIGGER IF EXISTS event_client_exists ON operations_event",
    "DROP FUNCTION IF EXISTS tally_events_name_clients()",
    f"""
    ALTER TABLE operations_event ADD CONSTRAINT {FK_NAME}
    FOREIGN KEY (client_id) REFERENCES clients_client (id) DEFERRABLE INITIALLY DEFERRED
    """,
]


def _run(statements: list[str]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql, None)  # no parameters: the SQL holds % signs

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0002_initial"),
        ("operations", "0006_events_written_once"),
    ]

    operations = [migrations.RunPython(_run(INSTALL), _run(REMOVE))]
