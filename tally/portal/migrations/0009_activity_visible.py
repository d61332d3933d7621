"""The activity page's tables join the client scope: the running totals of the client's
events per day, and its rate cards, which price the estimate of the charges to come."""

from django.db import migrations

from ._client_visible import client_visible


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0008_dispute_attachments_visible"),
        ("operations", "0009_daily_activity"),
        ("rating", "0002_rateprice_client"),
    ]
    operations = [
        client_visible("operations_dailyactivity"),
        client_visible("rating_ratecard"),
        client_visible("rating_rateprice"),
    ]
