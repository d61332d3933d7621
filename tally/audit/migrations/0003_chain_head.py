from django.db import migrations


def create_head(apps, schema_editor):
    # The chain head exists before the first append, so two first appends cannot race to create it.
    apps.get_model("audit", "AuditHead").objects.get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_guard")]
    operations = [migrations.RunPython(create_head, migrations.RunPython.noop)]
