from django.apps import AppConfig


class RoamingConfig(AppConfig):
    """OCPI partner connections, our OCPI endpoints and client, and everything received from CPOs."""

    name = "roaming"
