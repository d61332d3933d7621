"""A client sees only issued invoices: never a draft voided before it was issued.

The first policy hid drafts by status, but a draft can be voided (the way a bad draft is
thrown away), and it then had status 'void' with no number, no dates and lines no client
should read. Issued is what has a number (invoicing's `invoice_number_iff_issued`).
"""

from django.db import migrations

ROLE = "tally_portal"
SCOPED = "nullif(current_setting('tally.client_id', true), '')::bigint"


def _policy(condition: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"ALTER POLICY portal_client_scope ON invoicing_invoice TO {ROLE} "
            f"USING ({condition}) WITH CHECK ({condition})"
        )

    return run


class Migration(migrations.Migration):
    dependencies = [("portal", "0003_events_not_forced")]
    operations = [
        migrations.RunPython(
            _policy(f"client_id = {SCOPED} AND number IS NOT NULL"),
            _policy(f"client_id = {SCOPED} AND status <> 'draft'"),
        )
    ]
