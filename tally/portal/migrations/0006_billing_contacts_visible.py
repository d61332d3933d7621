"""Billing contacts join the client scope: a client sees who receives its invoices."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0005_refunds_visible"),
        ("clients", "0001_initial"),
    ]
    operations = [client_visible("clients_billingcontact")]
