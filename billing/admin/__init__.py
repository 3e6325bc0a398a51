"""Billing's admin pages, one module per subject (imported here so that Django's autodiscovery finds them)."""

from . import pricing  # noqa: F401
from . import invoices  # noqa: F401
