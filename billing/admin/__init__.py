"""Billing's admin pages, one module per subject (imported here so that Django's autodiscovery finds them)."""

from . import (
    invoices,  # noqa: F401
    pricing,  # noqa: F401
)
