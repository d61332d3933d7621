"""Database triggers that make the audit table append-only.

On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE; on SQLite triggers refuse
UPDATE and DELETE. A database owner can still drop them — that is what the hash chain
and `tally verify-audit` are for.
"""

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditevent"

_PG_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION tally_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit trail is append-only (% refused)', TG_OP;
    END $$
    """,
    f"DROP TRIGGER IF EXISTS audit_append_only_rows ON {TABLE}",
    f"""CREATE TRIGGER audit_append_only_rows BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION tally_audit_append_only()""",
    f"DROP TRIGGER IF EXISTS audit_append_only_truncate ON {TABLE}",
    f"""CREATE TRIGGER audit_append_only_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION tally_audit_append_only()""",
]
_PG_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_append_only_rows ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_append_only_truncate ON {TABLE}",
]
_SQLITE_INSTALL = [
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only (UPDATE refused)'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit trail is append-only (DELETE refused)'); END""",
]
_SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_no_update",
    "DROP TRIGGER IF EXISTS audit_no_delete",
]


def _run(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def install(connection: BaseDatabaseWrapper) -> None:
    _run(connection, _PG_INSTALL if connection.vendor == "postgresql" else _SQLITE_INSTALL)


def remove(connection: BaseDatabaseWrapper) -> None:
    """Only for test teardown (flushing the database) and deliberate tamper tests."""
    _run(connection, _PG_REMOVE if connection.vendor == "postgresql" else _SQLITE_REMOVE)
