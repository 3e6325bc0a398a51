from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("drivers", "0003_driver_address_and_balance"),
    ]

    operations = [
        migrations.AddField(
            model_name="driver",
            name="email_verified_at",
            field=models.DateTimeField(
                blank=True, help_text="When the driver confirmed their email address; empty: not yet.", null=True
            ),
        ),
        migrations.AddField(
            model_name="driver",
            name="erased_at",
            field=models.DateTimeField(
                blank=True, help_text="When the account was closed and its personal data removed.", null=True
            ),
        ),
    ]
