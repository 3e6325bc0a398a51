from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _staff_groups_complete(sender: AppConfig, **kwargs: Any) -> None:
    """Permissions that later migrations bring (a new model, a new action) reach the groups too; after a
    flush (transactional tests) the groups come back with the permissions."""
    from backoffice.groups import staff_groups_sync

    staff_groups_sync(apps)


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        post_migrate.connect(_staff_groups_complete, sender=self, dispatch_uid="backoffice_staff_groups")
