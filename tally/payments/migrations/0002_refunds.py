"""Refunds of unapplied credit; a payment's unapplied credit leaves out what was refunded."""

import django.db.models.deletion
import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('clients', '0003_client_locale'),
        ('payments', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Refund',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('amount_minor', models.BigIntegerField()),
                ('currency', models.CharField(max_length=3)),
                ('refunded_on', models.DateField()),
                ('method', models.CharField(choices=[('ach', 'ACH'), ('wire', 'Wire transfer'), ('card', 'Card'), ('check', 'Check'), ('sepa', 'SEPA transfer'), ('other', 'Other')], max_length=10)),
                ('reference', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.AddField(
            model_name='payment',
            name='refunded_minor',
            field=models.BigIntegerField(default=0),
        ),
        # A generated column cannot be altered: dropped and added with refunds in it.
        migrations.RemoveField(model_name='payment', name='unapplied_minor'),
        migrations.AddField(
            model_name='payment',
            name='unapplied_minor',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.expressions.CombinedExpression(django.db.models.expressions.CombinedExpression(models.F('amount_minor'), '-', models.F('allocated_minor')), '-', models.F('refunded_minor')), output_field=models.BigIntegerField()),
        ),
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(fields=['received_on', 'id'], name='payment_received_idx'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.CheckConstraint(condition=models.Q(('refunded_minor__gte', 0), ('amount_minor__gte', django.db.models.expressions.CombinedExpression(models.F('allocated_minor'), '+', models.F('refunded_minor')))), name='payment_never_over_used'),
        ),
        migrations.AddField(
            model_name='refund',
            name='client',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='clients.client'),
        ),
        migrations.AddField(
            model_name='refund',
            name='payment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='refunds', to='payments.payment'),
        ),
        migrations.AddField(
            model_name='refund',
            name='recorded_by',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='refund',
            index=models.Index(fields=['payment'], name='refund_payment_idx'),
        ),
        migrations.AddConstraint(
            model_name='refund',
            constraint=models.CheckConstraint(condition=models.Q(('amount_minor__gt', 0)), name='refund_positive'),
        ),
    ]
