"""Billing's admin pages, one module per subject (imported here so that Django's autodiscovery finds them)."""

from . import collection, cpo_credits, invoice_reconciliation, invoices, plans, pricing  # noqa: F401
