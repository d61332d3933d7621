from django.db import migrations


def create_sequences(apps, schema_editor):
    # Counters exist before first use, so the first two issues cannot race to create them.
    seq = apps.get_model("invoicing", "NumberSequence")
    for name in ("invoice", "credit_note"):
        seq.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("invoicing", "0001_initial")]
    operations = [migrations.RunPython(create_sequences, migrations.RunPython.noop)]
