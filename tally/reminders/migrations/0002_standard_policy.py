"""The default reminder policy, "Standard": 3 days before due, on the due date, 7/14/30 days after."""

from django.db import migrations

STANDARD = [-3, 0, 7, 14, 30]


def create_standard_policy(apps, schema_editor):
    ReminderPolicy = apps.get_model("reminders", "ReminderPolicy")
    if ReminderPolicy.objects.filter(name="Standard").exists():
        return
    # Never take the default from a policy someone already chose.
    is_default = not ReminderPolicy.objects.filter(is_default=True).exists()
    ReminderPolicy.objects.create(name="Standard", offsets_days=STANDARD, is_default=is_default)


class Migration(migrations.Migration):
    dependencies = [
        ("reminders", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_standard_policy, migrations.RunPython.noop),
    ]
