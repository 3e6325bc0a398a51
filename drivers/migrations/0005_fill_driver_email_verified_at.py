"""Drivers from before sign-up in the app were created by staff, who had their address: count it as
confirmed when they were created, so they can sign in."""

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import F


def fill(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Driver = apps.get_model("drivers", "Driver")
    Driver.objects.filter(email_verified_at__isnull=True).update(email_verified_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("drivers", "0004_driver_email_verified_at_erased_at"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
