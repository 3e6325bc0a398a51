"""The staff groups support, finance and admins with their permissions (backoffice/groups.py)."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

from backoffice.groups import staff_groups_sync


def groups_create(apps: Any, schema_editor: Any) -> None:
    # Permissions are made by post_migrate, after every migration: make them now, to assign them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    staff_groups_sync(apps, reset=True)


def groups_delete(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=("support", "finance", "admins")).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("drivers", "0006_history_and_card_permissions"),
        ("roaming", "0011_command_retry_permission_partner_history"),
        ("billing", "0004_history_and_staff_permissions"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]
