"""The restricted PostgreSQL role and row-level security behind the client scope.

The allow-list is frozen here as it stood when this migration was written; a later table
made client-visible gets a migration of its own. (SQLite needs nothing in the schema: its
scope is built on the connection at run time.)
"""

from django.db import migrations

ROLE = "tally_portal"
TABLES = {
    "clients_client": "id",
    "invoicing_invoice": "client_id",
    "invoicing_invoiceline": "client_id",
    "invoicing_creditnote": "client_id",
    "operations_event": "client_id",
    "payments_payment": "client_id",
    "payments_allocation": "client_id",
    "reminders_reminder": "client_id",
    "disputes_dispute": "client_id",
    "disputes_disputeline": "client_id",
    "disputes_disputemessage": "client_id",
}
SCOPED = "nullif(current_setting('tally.client_id', true), '')::bigint"


def apply(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"""DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
            CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;
        END IF; END $$""")
    run(f"GRANT {ROLE} TO CURRENT_USER")
    run(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    for table, column in TABLES.items():
        condition = f"{column} = {SCOPED}"
        if table == "invoicing_invoice":
            condition += " AND status <> 'draft'"
        run(f"GRANT SELECT ON {table} TO {ROLE}")
        run(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        run(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        run(f"DROP POLICY IF EXISTS portal_client_scope ON {table}")
        run(f"CREATE POLICY portal_client_scope ON {table} TO {ROLE} USING ({condition}) WITH CHECK ({condition})")
        # FORCE applies the policies to the table owner too: the application itself sees everything.
        run(f"DROP POLICY IF EXISTS application_owner ON {table}")
        run(f"CREATE POLICY application_owner ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)")


def revert(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP POLICY IF EXISTS portal_client_scope ON {table}")
        schema_editor.execute(f"DROP POLICY IF EXISTS application_owner ON {table}")
        schema_editor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        schema_editor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        schema_editor.execute(f"REVOKE ALL ON {table} FROM {ROLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0001_initial"),
        ("invoicing", "0002_number_sequences"),
        ("operations", "0001_initial"),
        ("payments", "0001_initial"),
        ("reminders", "0001_initial"),
        ("disputes", "0001_initial"),
    ]
    operations = [migrations.RunPython(apply, revert)]
