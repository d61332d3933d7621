"""Dispute attachments join the client scope: a client downloads the files of its own
disputes, nobody else's."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0007_client_notices_visible"),
        ("disputes", "0003_attachments"),
    ]
    operations = [
        client_visible("disputes_disputeattachment"),
        client_visible("disputes_disputeattachmentcontent"),
    ]
