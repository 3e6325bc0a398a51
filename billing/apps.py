from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Tariff engine, CDR reconciliation and invoices. May use roaming and drivers."""

    name = "billing"
