"""Refunds join the client scope: a client sees the credit paid back to it."""

from django.db import migrations

ROLE = "tally_portal"
TABLE = "payments_refund"
CONDITION = "client_id = nullif(current_setting('tally.client_id', true), '')::bigint"


def apply(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"GRANT SELECT ON {TABLE} TO {ROLE}")
    run(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
    run(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
    run(
        f"CREATE POLICY portal_client_scope ON {TABLE} TO {ROLE} "
        f"USING ({CONDITION}) WITH CHECK ({CONDITION})"
    )
    run(f"CREATE POLICY application_owner ON {TABLE} TO CURRENT_USER USING (true) WITH CHECK (true)")


def revert(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    run = schema_editor.execute
    run(f"DROP POLICY IF EXISTS portal_client_scope ON {TABLE}")
    run(f"DROP POLICY IF EXISTS application_owner ON {TABLE}")
    run(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY")
    run(f"ALTER TABLE {TABLE} DISABLE ROW LEVEL SECURITY")
    run(f"REVOKE ALL ON {TABLE} FROM {ROLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_only_issued_invoices_visible"),
        ("payments", "0002_refunds"),
    ]
    operations = [migrations.RunPython(apply, revert)]
