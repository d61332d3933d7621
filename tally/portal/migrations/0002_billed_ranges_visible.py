"""Billed ranges join the client scope: a line's events are found through its ranges."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_client_scope_role"),
        ("invoicing", "0004_billedrange"),
    ]
    operations = [client_visible("invoicing_billedrange")]
