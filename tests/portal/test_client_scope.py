"""The database itself keeps a scoped connection to one client's client-visible rows."""

from datetime import date

import pytest
from django.db import DatabaseError, connection, transaction

from tally.actions.invoices import void_invoice
from tally.audit.actors import SystemActor
from tally.invoicing.models import Invoice
from tally.portal.scope import CLIENT_VISIBLE, PORTAL_ROLE, ScopeError, client_scope
from tests.factories import draft_invoice, issued_invoice

pytestmark = pytest.mark.django_db
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def two_clients_billed(acme, globex):
    issued_invoice(acme, picks=3)
    issued_invoice(globex, picks=4)
    draft_invoice(acme, picks=0, labels=2, period=NOVEMBER, day=date(2026, 11, 3))
    return acme, globex


def raw(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.mark.parametrize(
    "table",
    [
        "internal_notes_internalnote",
        "accounts_user",
        "audit_auditevent",
        "django_session",
        "reminders_reminderattempt",
        "invoicing_billingrun",
    ],
)
def test_tables_outside_the_allow_list_cannot_be_read_in_scope(two_clients_billed, table):
    acme, _ = two_clients_billed
    with pytest.raises(DatabaseError), client_scope(acme.pk):
        raw(f"SELECT count(*) FROM {table}")


def test_a_sub_select_on_a_denied_table_fails_too(two_clients_billed):
    acme, _ = two_clients_billed
    with pytest.raises(DatabaseError), client_scope(acme.pk):
        raw("SELECT id, (SELECT count(*) FROM internal_notes_internalnote) FROM invoicing_invoice")


def test_a_query_without_where_returns_only_the_scoped_clients_rows(two_clients_billed):
    acme, globex = two_clients_billed
    with client_scope(acme.pk):
        assert {r[0] for r in raw("SELECT client_id FROM invoicing_invoice")} == {acme.pk}
        assert {r[0] for r in raw("SELECT client_id FROM operations_event")} == {acme.pk}
        for table in ("operations_dailyactivity", "rating_ratecard", "rating_rateprice"):
            assert {r[0] for r in raw(f"SELECT client_id FROM {table}")} == {acme.pk}
        assert raw("SELECT id FROM clients_client") == [(acme.pk,)]
        # Drafts are invisible even to the client that owns them.
        assert {r[0] for r in raw("SELECT status FROM invoicing_invoice")} == {"open"}
        assert Invoice.objects.count() == 1
    with client_scope(globex.pk):
        assert {r[0] for r in raw("SELECT client_id FROM invoicing_invoiceline")} == {globex.pk}
    # Outside the scope the connection is itself again.
    assert Invoice.objects.count() == 3
    assert raw("SELECT count(*) FROM accounts_user") == [(0,)]


def test_a_draft_voided_before_it_was_issued_stays_invisible(two_clients_billed):
    """Voiding is how a bad draft is thrown away: it never becomes the client's to read."""
    acme, _ = two_clients_billed
    draft = Invoice.objects.get(client=acme, status="draft")
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=draft.pk, reason="wrong period")
    with client_scope(acme.pk):
        assert raw("SELECT status FROM invoicing_invoice") == [("open",)]
        assert raw(f"SELECT count(*) FROM invoicing_invoice WHERE id = {draft.pk}") == [(0,)]


def test_the_scope_shows_the_invoices_the_issued_rule_gives_and_no_others(
    two_clients_billed, every_status, operator
):
    """The scope's copy of "issued" (a SQLite view, a PostgreSQL policy: SQL text of their
    own) agrees with `Invoice.objects.issued()`: drafts, void drafts, every status."""
    acme, _ = two_clients_billed
    draft = Invoice.objects.get(client=acme, status="draft")
    void_invoice(actor=operator, client=acme, invoice_id=draft.pk, reason="wrong period")
    draft_invoice(acme, picks=2, period=NOVEMBER, day=date(2026, 11, 4))
    issued = set(Invoice.objects.filter(client=acme).issued().values_list("id", flat=True))
    assert len(issued) == len(every_status.invoices()) + 1
    assert Invoice.objects.filter(client=acme).count() == len(issued) + 2
    with client_scope(acme.pk):
        assert {r[0] for r in raw("SELECT id FROM invoicing_invoice")} == issued


def test_writes_are_refused_in_scope(two_clients_billed):
    acme, _ = two_clients_billed
    with pytest.raises(DatabaseError), client_scope(acme.pk):
        raw("UPDATE invoicing_invoice SET void_reason = 'x'")
    assert not Invoice.objects.exclude(void_reason="").exists()


def test_the_scope_is_restored_after_an_error_inside_it(two_clients_billed):
    acme, _ = two_clients_billed
    with pytest.raises(ZeroDivisionError), client_scope(acme.pk):
        1 / 0  # noqa: B018
    assert Invoice.objects.count() == 3
    with transaction.atomic():
        assert raw("SELECT count(*) FROM accounts_user") == [(0,)]


def test_scopes_do_not_nest_and_need_a_client(acme):
    with pytest.raises(ScopeError):
        with client_scope(0):
            pass
    with client_scope(acme.pk), pytest.raises(ScopeError):
        with client_scope(acme.pk):
            pass


@pytest.mark.postgres_only
def test_the_catalog_matches_the_allow_list(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = %s",
            [PORTAL_ROLE],
        )
        assert cursor.fetchone() == (False, False, False)
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s",
            [PORTAL_ROLE],
        )
        assert cursor.fetchone() == (0,)
        cursor.execute(
            "SELECT table_name FROM information_schema.role_table_grants "
            "WHERE grantee = %s AND table_catalog = current_database()",
            [PORTAL_ROLE],
        )
        granted = {r[0] for r in cursor.fetchall()}
        assert granted == set(CLIENT_VISIBLE)
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid "
            "  AND %s::regrole = ANY(p.polroles) AND p.polqual IS NOT NULL AND p.polwithcheck IS NOT NULL) "
            "FROM pg_class c WHERE c.relname = ANY(%s)",
            [PORTAL_ROLE, list(CLIENT_VISIBLE)],
        )
        rows = cursor.fetchall()
        assert len(rows) == len(CLIENT_VISIBLE)
        assert all(rls and policies == 1 for _, rls, _, policies in rows), rows
        # Forced on the owner too, except events: ingestion COPYs into them, which PostgreSQL
        # refuses under row security (portal migration 0003).
        assert {name for name, _, forced, _ in rows if not forced} == {"operations_event"}


@pytest.mark.postgres_only
def test_a_scope_that_forgot_the_client_sees_nothing(two_clients_billed):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {PORTAL_ROLE}")
        cursor.execute("SELECT count(*) FROM invoicing_invoice")
        assert cursor.fetchone() == (0,)
        cursor.execute("RESET ROLE")
