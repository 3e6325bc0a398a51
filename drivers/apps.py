from django.apps import AppConfig


class DriversConfig(AppConfig):
    """Drivers and their charge tokens (RFID cards, app tokens). Depends on no other app."""

    name = "drivers"
