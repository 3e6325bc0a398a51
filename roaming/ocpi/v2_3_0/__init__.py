"""OCPI 2.3.0 wire-format models: only what 2.3.0 adds that we serve (the Invoice Reconciliation module).

The types, base models and JSON helpers are 2.2.1's (`..v2_2_1.types`): 2.3.0 keeps them.
"""

from .invoicereconciliation import InvoiceReconciliationRecord

__all__ = ["InvoiceReconciliationRecord"]
