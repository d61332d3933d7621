"""A table joins the client scope on PostgreSQL: the portal's role may read it, each row
only for the client the scope names (tally/portal/scope.py; SQLite's side is CLIENT_VISIBLE).

Not a migration itself (Django skips modules whose name starts with `_`): the operation
each "<table> visible" migration runs, written once.
"""

from django.db import migrations

ROLE = "tally_portal"
CONDITION = "client_id = nullif(current_setting('tally.client_id', true), '')::bigint"


def client_visible(table: str) -> migrations.RunPython:
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        run = schema_editor.execute
        run(f"GRANT SELECT ON {table} TO {ROLE}")
        run(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        run(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        run(
            f"CREATE POLICY portal_client_scope ON {table} TO {ROLE} "
            f"USING ({CONDITION}) WITH CHECK ({CONDITION})"
        )
        run(
            f"CREATE POLICY application_owner ON {table} TO CURRENT_USER "
            "USING (true) WITH CHECK (true)"
        )

    def revert(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        run = schema_editor.execute
        run(f"DROP POLICY IF EXISTS portal_client_scope ON {table}")
        run(f"DROP POLICY IF EXISTS application_owner ON {table}")
        run(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        run(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        run(f"REVOKE ALL ON {table} FROM {ROLE}")

    return migrations.RunPython(apply, revert)
