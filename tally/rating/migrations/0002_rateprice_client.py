"""A rate card's prices carry its client, as every client-visible table does."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("clients", "0003_client_locale"),
        ("rating", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="rateprice",
            name="client",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clients.client",
            ),
        ),
        migrations.RunSQL(
            "UPDATE rating_rateprice SET client_id = "
            "(SELECT client_id FROM rating_ratecard c WHERE c.id = rating_rateprice.rate_card_id)",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="rateprice",
            name="client",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="clients.client",
            ),
        ),
    ]
