"""What a credit note credits on each line joins the client scope: a client sees which of
its lines a credit note credits, and by how much."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0009_activity_visible"),
        ("invoicing", "0011_credit_note_lines"),
    ]
    operations = [client_visible("invoicing_creditnoteline")]
