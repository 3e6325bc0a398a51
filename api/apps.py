from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The driver API (/api/v1/): what the mobile apps see. On top of every app; nothing imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "Driver API"
