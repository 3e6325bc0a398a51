from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Tariff engine, CDR reconciliation and invoices. May use roaming and drivers."""

    name = "billing"

    def ready(self) -> None:
        from billing import receivers
        from billing.models import CdrPrice
        from roaming import signals

        signals.register_cdr_companion(CdrPrice, "cdr")  # a PENDING price, in the CDR's own INSERT
        signals.cdr_stored.connect(receivers.cdr_stored, dispatch_uid="billing.cdr_stored")
        signals.tariffs_stored.connect(receivers.tariffs_stored, dispatch_uid="billing.tariffs_stored")
        signals.locations_stored.connect(receivers.locations_stored, dispatch_uid="billing.locations_stored")
