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

A scope may name the tables it reads (`tables=`): on SQLite only those get a view, so a
read of any other table is refused like a table outside the allow-list, and a scope costs
a few statements instead of two per client-visible table (bench/RESULTS.md, "Client
portal"). PostgreSQL's policies
cover every client-visible table whatever the scope names. On SQLite the scope's
transaction is a deferred one: it reads one snapshot without taking the database's write
lock, so portal reads neither queue behind each other nor behind a writer.
"""

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction

PORTAL_ROLE = "tally_portal"

# Client-visible tables and the rows of each a client may read, as SQL on the table's own
# columns; `{client}` is the scoped client's id. Only issued invoices are visible: never a
# draft, nor a draft voided before it was issued (it has no number) — the SQL copy of
# `Invoice.objects.issued()` (invoicing/status.py), as is the PostgreSQL policy (portal
# migration 0004); tests/portal/test_client_scope.py holds the three together. Each condition
# reads a column other than the rowid in a way the planner cannot drop (`IS NOT NULL` on a
# NOT NULL column is dropped): SQLite reports a rowid-only read without naming the
# view it came through, and the authorizer would refuse it.
CLIENT_VISIBLE: dict[str, str] = {
    "clients_client": "id = {client} AND length(code) > 0",
    "clients_billingcontact": "client_id = {client}",
    "invoicing_invoice": "client_id = {client} AND number IS NOT NULL",
    "invoicing_invoiceline": "client_id = {client}",
    "invoicing_billedrange": "client_id = {client}",
    "invoicing_creditnote": "client_id = {client}",
    "invoicing_creditnoteline": "client_id = {client}",
    "operations_event": "client_id = {client}",
    "operations_dailyactivity": "client_id = {client}",
    "rating_ratecard": "client_id = {client}",
    "rating_rateprice": "client_id = {client}",
    "payments_payment": "client_id = {client}",
    "payments_allocation": "client_id = {client}",
    "payments_refund": "client_id = {client}",
    "payments_clientnotice": "client_id = {client}",
    "payments_clientnoticeinvoice": "client_id = {client}",
    "reminders_reminder": "client_id = {client}",
    "disputes_dispute": "client_id = {client}",
    "disputes_disputeline": "client_id = {client}",
    "disputes_disputemessage": "client_id = {client}",
    "disputes_disputeattachment": "client_id = {client}",
    "disputes_disputeattachmentcontent": "client_id = {client}",
}


# SQLite's table-valued JSON functions (an event's details taken apart into its keys):
# eponymous virtual tables that read nothing but the value they are given.
JSON_TABLE_FUNCTIONS = frozenset({"json_each", "json_tree"})


class ScopeError(RuntimeError):
    pass


def _pg_enter(client_id: int) -> None:
    # One round trip: the setting, then `SET LOCAL ROLE` (set_config('role', …, true) is the
    # same assignment, checked the same way). And no JIT for the scope's transaction: the
    # portal's reads are small, but a computed sort key (the invoice status) inflates the
    # planner's cost estimate past jit_above_cost, and compiling took most of the query's
    # time. Random reads priced as what they are for a client's working set, cached or on
    # SSD (the default 4.0 is for spinning disks): counting a client's open disputes then
    # probes each one's invoice by key instead of scanning every invoice. Both measured:
    # bench/RESULTS.md, "Measured in passing".
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('tally.client_id', %s, true), set_config('role', %s, true), "
            "set_config('jit', 'off', true), set_config('random_page_cost', '1.1', true)",
            [str(client_id), PORTAL_ROLE],
        )


def _pg_exit() -> None:
    # A role set inside a savepoint survives its release: undo it explicitly (`RESET ROLE`
    # is set_config('role', 'none', false)), and clear the setting.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('role', 'none', false), set_config('tally.client_id', '', true)"
        )


def _sqlite_authorizer(
    action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
) -> int:
    if action == sqlite3.SQLITE_READ:
        if db == "main" and arg1 in CLIENT_VISIBLE and source == arg1:
            return sqlite3.SQLITE_OK  # read through the scope's view of this table
        if db == "temp" and arg1 in CLIENT_VISIBLE:
            return sqlite3.SQLITE_OK
        if arg1 in JSON_TABLE_FUNCTIONS and db == "main":
            return sqlite3.SQLITE_OK  # a JSON value taken apart: reads only its argument
        return sqlite3.SQLITE_DENY
    if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE):
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _sqlite_enter(client_id: int, tables: frozenset[str]) -> None:
    with connection.cursor() as cursor:
        for table, condition in CLIENT_VISIBLE.items():
            if table in tables:
                cursor.execute(
                    f'CREATE TEMP VIEW "{table}" AS SELECT * FROM main."{table}" '  # noqa: S608 (constants and an int)
                    f"WHERE {condition.format(client=int(client_id))}"
                )
    raw = connection.connection
    if getattr(connection, "tally_json_ready", None) is not raw:
        # SQLite builds a table-valued function's virtual table on its first use on a
        # connection, writing its schema, which the authorizer would refuse: build them
        # now, once per connection, before it is installed.
        raw.execute("SELECT 1 FROM json_each('[]'), json_tree('[]')").fetchall()
        connection.tally_json_ready = raw  # type: ignore[attr-defined]
    raw.set_authorizer(_sqlite_authorizer)


def _sqlite_exit(tables: frozenset[str]) -> None:
    connection.connection.set_authorizer(None)
    with connection.cursor() as cursor:
        for table in CLIENT_VISIBLE:
            if table in tables:
                cursor.execute(f'DROP VIEW IF EXISTS temp."{table}"')


@contextmanager
def client_scope(client_id: int, tables: Iterable[str] | None = None) -> Iterator[None]:
    """Run the block's reads as this client, in one transaction, and nothing else.

    `tables`: the client-visible tables the block reads (default: all of them). On SQLite
    every other table is then unreadable in the block; on PostgreSQL it changes nothing."""
    if not isinstance(client_id, int) or client_id <= 0:
        raise ScopeError("a client scope needs a client id")
    if getattr(connection, "tally_client_scope", None) is not None:
        raise ScopeError("client scopes do not nest")
    exposed = frozenset(CLIENT_VISIBLE if tables is None else tables)
    if not exposed <= CLIENT_VISIBLE.keys():
        raise ScopeError(f"not client-visible: {sorted(exposed - CLIENT_VISIBLE.keys())}")
    pg = connection.vendor == "postgresql"
    connection.ensure_connection()
    # The settings make SQLite transactions IMMEDIATE (right for writes); a read scope that
    # starts the transaction begins it DEFERRED instead, so it takes no write lock.
    deferred = not pg and not connection.in_atomic_block
    mode = getattr(connection, "transaction_mode", None)
    if deferred:
        connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            if deferred:
                connection.transaction_mode = mode  # type: ignore[attr-defined]
            if pg:
                _pg_enter(client_id)
            else:
                _sqlite_enter(client_id, exposed)
            connection.tally_client_scope = client_id  # type: ignore[attr-defined]
            try:
                yield
            except BaseException:
                # Rolling back the transaction (or savepoint) undoes the role and the setting
                # on PostgreSQL; the SQLite views and authorizer live on the connection itself.
                if not pg:
                    _sqlite_exit(exposed)
                raise
            else:
                if pg:
                    _pg_exit()
                else:
                    _sqlite_exit(exposed)
            finally:
                connection.tally_client_scope = None  # type: ignore[attr-defined]
    finally:
        if deferred:
            connection.transaction_mode = mode  # type: ignore[attr-defined]


def current_client_id() -> int | None:
    return getattr(connection, "tally_client_scope", None)
