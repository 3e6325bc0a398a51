# OCPI token uids are case-insensitive: unique in upper case (the new index first, so uids stay unique throughout).

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('drivers', '0001_drivers_tokens'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='token',
            constraint=models.UniqueConstraint(django.db.models.functions.text.Upper('uid'), models.F('type'), name='unique_token_uid_upper_type', violation_error_message='A token of this type has this uid already (uids ignore case).'),
        ),
        migrations.RemoveConstraint(
            model_name='token',
            name='unique_token_uid_type',
        ),
    ]
