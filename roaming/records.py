"""The records the roaming services work with, whatever OCPI version a partner speaks.

Each version's package under `roaming/ocpi/` maps its wire objects to these and back; the services, the sync
and billing see only these. Column values are already in our terms (labels, Decimals, aware datetimes); what
we do not keep as a column stays in `fields["extra"]` (or `raw`) exactly as the partner sent it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ConnectorData:
    ocpi_id: str
    fields: dict[str, Any]


@dataclass
class EvseData:
    uid: str
    fields: dict[str, Any]
    connectors: list[ConnectorData] = field(default_factory=list)


@dataclass
class LocationData:
    country_code: str
    party_id: str
    ocpi_id: str
    last_updated: datetime
    content_hash: str
    fields: dict[str, Any]
    evses: list[EvseData] = field(default_factory=list)


@dataclass
class ElementData:
    restrictions: dict[str, Any] | None
    components: list[dict[str, Any]]


@dataclass
class TariffData:
    country_code: str
    party_id: str
    ocpi_id: str
    last_updated: datetime
    content_hash: str
    fields: dict[str, Any]
    elements: list[ElementData] = field(default_factory=list)


@dataclass
class SessionData:
    country_code: str
    party_id: str
    ocpi_id: str
    last_updated: datetime
    content_hash: str
    token_party: tuple[str, str]  # the eMSP party in `cdr_token`: only our own tokens are linked
    fields: dict[str, Any]


@dataclass
class SessionChanges:
    """A Session PATCH in the services' terms."""

    fields: dict[str, Any]  # column values
    extra: dict[str, Any]  # the other fields sent, merged into `extra`
    charging_periods: list[dict[str, Any]]  # to be appended (spec), never to replace
    token_party: tuple[str, str] | None  # set when the PATCH carries a `cdr_token`


@dataclass
class CdrData:
    country_code: str
    party_id: str
    ocpi_id: str
    last_updated: datetime
    content_hash: str
    token_party: tuple[str, str]
    fields: dict[str, Any]
    raw: dict[str, Any]  # the CDR exactly as received (JSON types)


@dataclass
class HubClientData:
    """A hub's word on one party behind it (OCPI HubClientInfo): who it is and whether it can be reached."""

    country_code: str
    party_id: str
    role: str
    status: str
    last_updated: datetime


@dataclass
class InvoiceReconciliationData:
    """Which CDRs one of the party's invoices covers (OCPI 2.3.0 InvoiceReconciliationRecord)."""

    country_code: str
    party_id: str
    ocpi_id: str
    invoice_id: str
    cdr_ids: list[str]  # as sent; matched to CDRs without regard to case
    last_updated: datetime
    extra: dict[str, Any] = field(default_factory=dict)  # fields OCPI does not define, as sent (JSON types)


@dataclass
class PartyRoleData:
    """One party a partner's credentials name (2.2.1 lists roles; a 2.1.1 credentials object is one party)."""

    role: str
    country_code: str
    party_id: str
    business_name: str
    business_website: str = ""
    logo_url: str = ""


@dataclass
class EndpointData:
    """One module endpoint from a partner's version details, with the partner's interface role."""

    module: str
    role: str
    url: str
