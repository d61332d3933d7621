"""The client scope: every portal read runs inside it, and the database enforces it.

On PostgreSQL the scope switches, for one transaction, to the restricted role
`tally_portal`, which may SELECT only the client-visible tables, each under a
row-level-security policy on `client_id = current_setting('tally.client_id')`.

On SQLite the scope shadows each client-visible table with a TEMP VIEW of the same name
that keeps only the client's rows, and installs an authorizer that refuses every read
that does not come through one of those views — so a table outside the allow-list, or
`main.<table>` addressed directly, is "not authorized".

Both restore the connection when the scope exits, so the operator side that shares the
connection never runs scoped.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

PORTAL_ROLE = "tally_portal"

# Client-visible tables and the rows of each a client may read, as SQL on the table's own
# columns; `{client}` is the scoped client's id. Drafts are never visible. Each condition
# reads a column other than the rowid in a way the planner cannot drop (`IS NOT NULL` on a
# NOT NULL column is dropped): SQLite reports a rowid-only read without naming the
# view it came through, and the authorizer would refuse it.
CLIENT_VISIBLE: dict[str, str] = {
    "clients_client": "id = {client} AND length(code) > 0",
    "invoicing_invoice": "client_id = {client} AND status <> 'draft'",
    "invoicing_invoiceline": "client_id = {client}",
    "invoicing_creditnote": "client_id = {client}",
    "operations_event": "client_id = {client}",
    "payments_payment": "client_id = {client}",
    "payments_allocation": "client_id = {client}",
    "reminders_reminder": "client_id = {client}",
    "disputes_dispute": "client_id = {client}",
    "disputes_disputeline": "client_id = {client}",
    "disputes_disputemessage": "client_id = {client}",
}


class ScopeError(RuntimeError):
    pass


def _pg_enter(client_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tally.client_id', %s, true)", [str(client_id)])
        cursor.execute(f"SET LOCAL ROLE {PORTAL_ROLE}")


def _pg_exit() -> None:
    # A role set inside a savepoint survives its release: undo it explicitly.
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SELECT set_config('tally.client_id', '', true)")


def _sqlite_authorizer(
    action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
) -> int:
    if action == sqlite3.SQLITE_READ:
        if db == "main" and arg1 in CLIENT_VISIBLE and source == arg1:
            return sqlite3.SQLITE_OK  # read through the scope's view of this table
        if db == "temp" and arg1 in CLIENT_VISIBLE:
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _sqlite_enter(client_id: int) -> None:
    with connection.cursor() as cursor:
        for table, condition in CLIENT_VISIBLE.items():
            cursor.execute(
                f'CREATE TEMP VIEW "{table}" AS SELECT * FROM main."{table}" '  # noqa: S608 (constants and an int)
                f"WHERE {condition.format(client=int(client_id))}"
            )
    connection.connection.set_authorizer(_sqlite_authorizer)


def _sqlite_exit() -> None:
    connection.connection.set_authorizer(None)
    with connection.cursor() as cursor:
        for table in CLIENT_VISIBLE:
            cursor.execute(f'DROP VIEW IF EXISTS temp."{table}"')


@contextmanager
def client_scope(client_id: int) -> Iterator[None]:
    """Run the block's reads as this client, in one transaction, and nothing else."""
    if not isinstance(client_id, int) or client_id <= 0:
        raise ScopeError("a client scope needs a client id")
    if getattr(connection, "tally_client_scope", None) is not None:
        raise ScopeError("client scopes do not nest")
    pg = connection.vendor == "postgresql"
    with transaction.atomic():
        connection.ensure_connection()
        (_pg_enter if pg else _sqlite_enter)(client_id)
        connection.tally_client_scope = client_id  # type: ignore[attr-defined]
        try:
            yield
        except BaseException:
            # Rolling back the transaction (or savepoint) undoes the role and the setting on
            # PostgreSQL; the SQLite views and authorizer live on the connection itself.
            if not pg:
                _sqlite_exit()
            raise
        else:
            (_pg_exit if pg else _sqlite_exit)()
        finally:
            connection.tally_client_scope = None  # type: ignore[attr-defined]


def current_client_id() -> int | None:
    return getattr(connection, "tally_client_scope", None)
