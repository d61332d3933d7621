"""Refunds join the client scope: a client sees the credit paid back to it."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0004_only_issued_invoices_visible"),
        ("payments", "0002_refunds"),
    ]
    operations = [client_visible("payments_refund")]
