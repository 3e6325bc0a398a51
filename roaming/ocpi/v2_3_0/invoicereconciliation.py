"""Invoice Reconciliation module (new in 2.3.0 ed2): a record says which CDRs one invoice covers.

Reference: OCPI 2.3.0-ed2 mod_invoice_reconciliation.asciidoc. Either party may own records: the CPO with
direct billing (it invoices us), the eMSP with reverse billing (we invoice credits to the CPO).
"""

from __future__ import annotations

from ..v2_2_1.types import CiString2, CiString3, CiString36, CiString255, DateTime, NonEmptyList, OcpiModel


class InvoiceReconciliationRecord(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    invoice_id: CiString255
    cdrs: NonEmptyList[CiString36]  # the ids of the CDRs the invoice charges for (cardinality +)
    last_updated: DateTime
