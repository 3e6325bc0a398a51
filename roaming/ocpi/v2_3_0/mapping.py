"""OCPI 2.3.0 objects ↔ the records the roaming services work with (`roaming.records`), and back.

Where 2.3.0 has 2.2.1's shape, 2.2.1's mapping is used as it is (the 2.3.0 models are subclasses, and their
Price / PriceLimit read as excl. / incl. VAT); here are only the differences: `tax_included` and PriceLimits on
tariffs, the taxes of a CDR's total cost, hub_party_id in credentials, and the Invoice Reconciliation records.
Parking places, EVSE parking links, accepted service providers, help_phone and connector capabilities have no
columns: they stay in `extra` as sent and are served back from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roaming.records import CdrData, InvoiceReconciliationData, PartyRoleData, TariffData

from ..mapping import label
from ..v2_2_1 import mapping as m221
from ..v2_2_1.types import format_datetime
from .credentials import Credentials
from .invoicereconciliation import InvoiceReconciliationRecord
from .sessions import CDR
from .tariffs import Tariff

if TYPE_CHECKING:
    from roaming import models

_RECORD_FIELDS = frozenset(InvoiceReconciliationRecord.model_fields)


def tariff_data(tariff: Tariff) -> TariffData:
    data = m221.tariff_data(tariff)
    data.fields["extra"].pop("tax_included", None)
    data.fields["tax_included"] = label(tariff.tax_included)
    return data


def tariff_to_ocpi(
    tariff: models.Tariff, elements: list[tuple[models.TariffElement, list[models.PriceComponent]]]
) -> dict[str, Any]:
    """A tariff stored from 2.2.1 has no tax_included: its prices are excl. VAT, which 2.3.0 says as NO."""
    doc = m221.tariff_to_ocpi(tariff, elements)
    for bound in ("min_price", "max_price"):
        if bound in doc:
            price = doc[bound]
            doc[bound] = {"before_taxes": price["excl_vat"]} | (
                {"after_taxes": price["incl_vat"]} if "incl_vat" in price else {}
            )
    doc["tax_included"] = tariff.tax_included or "NO"
    return doc


def cdr_data(cdr: CDR, raw: dict[str, Any] | None = None) -> CdrData:
    data = m221.cdr_data(cdr, raw)
    taxes = cdr.total_cost.taxes
    data.fields["total_cost_taxes"] = (
        None if taxes is None else [t.model_dump(mode="json", exclude_none=True) for t in taxes]
    )
    return data


def hub_role(credentials: Credentials) -> list[PartyRoleData]:
    """A hub's own party (`hub_party_id`) as a HUB role: 2.3.0 has no HUB role, but the hubs support keys on one
    (roaming.services.hubs), and the parties the hub lists in `roles` are reached through it."""
    if not credentials.hub_party_id:
        return []
    hub = credentials.hub_party_id.upper()
    return [PartyRoleData(role="HUB", country_code=hub[:2], party_id=hub[2:], business_name=hub)]


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


def invoice_record_to_ocpi(
    record: models.InvoiceReconciliationRecord | models.IssuedInvoiceRecord,
) -> dict[str, Any]:
    """A record as the wire has it: a CPO's as it sent it (fields OCPI does not define kept), or ours."""
    return {
        "country_code": record.country_code,
        "party_id": record.party_id,
        "id": record.ocpi_id,
        "invoice_id": record.invoice_id,
        "cdrs": list(record.cdr_ids),
        **getattr(record, "extra", {}),
        "last_updated": format_datetime(record.last_updated),
    }
