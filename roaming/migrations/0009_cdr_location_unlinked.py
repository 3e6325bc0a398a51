# CDRs that arrived before their location are found when it arrives (a small partial index).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('roaming', '0008_enum_columns_32'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='cdr',
            index=models.Index(condition=models.Q(('location__isnull', True)), fields=['country_code', 'party_id'], name='cdr_location_unlinked'),
        ),
    ]
