"""Row security on events applies to the portal's role only, not to the table's owner.

PostgreSQL refuses `COPY … FROM` into a table whose row security applies to the current
user, and ingestion COPYs events straight into their table (operations/services.py,
`_copy_postgres`). FORCE put the application — the owner — under the policies too, where
its own policy (`application_owner`, USING true) let it see and write every row anyway: on
events it restricted nothing and stopped the COPY for any owner that is not a superuser.
The portal's role is not the owner, so its policy holds with or without FORCE.
"""

from django.db import migrations

TABLE = "operations_event"


def _run(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_billed_ranges_visible"),
        ("operations", "0007_event_client_checked_per_statement"),
    ]
    operations = [
        migrations.RunPython(
            _run(f"ALTER TABLE {TABLE} NO FORCE ROW LEVEL SECURITY"),
            _run(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY"),
        )
    ]
