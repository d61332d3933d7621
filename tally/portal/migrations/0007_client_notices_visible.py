"""A client's notices to the 3PL (credit requests, remittance advice) join the client
scope: a client reads what it asked or reported, and the answer."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0006_billing_contacts_visible"),
        ("payments", "0003_client_notices"),
    ]
    operations = [
        client_visible("payments_clientnotice"),
        client_visible("payments_clientnoticeinvoice"),
    ]
