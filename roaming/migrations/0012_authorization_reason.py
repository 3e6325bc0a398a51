# Authorizations keep why (reason) and the uid/type asked about, so a refusal for an unknown token is kept too.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('drivers', '0005_fill_driver_email_verified_at'),
        ('roaming', '0011_command_retry_permission_partner_history'),
    ]

    operations = [
        migrations.AddField(
            model_name='authorization',
            name='reason',
            field=models.CharField(blank=True, choices=[('allowed', 'Allowed'), ('unknown_token', 'Unknown token'), ('blocked', 'Card blocked, lost or stolen'), ('expired', 'Card expired'), ('not_activated', 'Card not activated yet'), ('driver_suspended', 'Driver suspended'), ('credit_limit', 'Credit limit reached'), ('location', 'Not allowed at this location')], help_text='Empty: decided before reasons were kept.', max_length=16),
        ),
        migrations.AddField(
            model_name='authorization',
            name='token_type',
            field=models.CharField(blank=True, max_length=12),
        ),
        migrations.AddField(
            model_name='authorization',
            name='token_uid',
            field=models.CharField(blank=True, help_text='The uid the CPO asked about, as it wrote it.', max_length=36),
        ),
        migrations.AlterField(
            model_name='authorization',
            name='token',
            field=models.ForeignKey(blank=True, help_text='Empty: a token we do not know (see token uid and type).', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='authorizations', to='drivers.token'),
        ),
    ]
