from django.apps import AppConfig


class EmspConfig(AppConfig):
    """The project package as an app, for the tables every layer writes to: the task outbox."""

    name = "emsp"
    verbose_name = "Platform"
