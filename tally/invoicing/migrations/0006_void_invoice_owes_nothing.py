"""A void invoice owes nothing: its balance is 0, not its total.

The portal showed a void invoice's balance as 0 but summed and sorted the stored one, so a
filter's "unpaid" total counted void invoices and "largest balance first" put them on top.
A generated column cannot be altered in place: it is dropped and added again with its
index (the table is rewritten; the balance is recomputed from the columns it derives from).
"""

from django.db import migrations, models


def _balance(expression: models.Expression) -> models.GeneratedField:
    return models.GeneratedField(
        expression=expression, output_field=models.BigIntegerField(), db_persist=True
    )


OWED = models.F("total_minor") - models.F("allocated_minor") - models.F("credited_minor")
INDEX = models.Index(fields=["client", "balance_minor", "id"], name="invoice_client_balance_idx")


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0005_invoice_client_balance_index")]

    operations = [
        migrations.RemoveIndex(model_name="invoice", name="invoice_client_balance_idx"),
        migrations.RemoveField(model_name="invoice", name="balance_minor"),
        migrations.AddField(
            model_name="invoice",
            name="balance_minor",
            field=_balance(
                models.Case(models.When(status="void", then=models.Value(0)), default=OWED)
            ),
        ),
        migrations.AddIndex(model_name="invoice", index=INDEX),
    ]
