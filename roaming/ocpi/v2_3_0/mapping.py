"""OCPI 2.3.0 objects ↔ the records the roaming services work with (`roaming.records`), and back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roaming.records import InvoiceReconciliationData

from ..v2_2_1.types import format_datetime
from .invoicereconciliation import InvoiceReconciliationRecord

if TYPE_CHECKING:
    from roaming import models

_RECORD_FIELDS = frozenset(InvoiceReconciliationRecord.model_fields)


def invoice_record_data(record: InvoiceReconciliationRecord) -> InvoiceReconciliationData:
    doc = record.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return InvoiceReconciliationData(
        country_code=record.country_code.upper(),
        party_id=record.party_id.upper(),
        ocpi_id=record.id,
        invoice_id=record.invoice_id,
        cdr_ids=list(record.cdrs),
        last_updated=record.last_updated,
        extra={key: value for key, value in doc.items() if key not in _RECORD_FIELDS},
    )


def invoice_record_to_ocpi(record: models.InvoiceReconciliationRecord) -> dict[str, Any]:
    return {
        "country_code": record.country_code,
        "party_id": record.party_id,
        "id": record.ocpi_id,
        "invoice_id": record.invoice_id,
        "cdrs": list(record.cdr_ids),
        **record.extra,
        "last_updated": format_datetime(record.last_updated),
    }
