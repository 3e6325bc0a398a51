"""HubClientInfo module: a Hub tells a connected party about the other parties behind it.

Reference: OCPI 2.2.1 mod_hub_client_info.asciidoc.
"""

from __future__ import annotations

from enum import StrEnum

from .types import CiString2, CiString3, DateTime, OcpiModel, OpenEnum, Role


class ConnectionStatus(StrEnum):
    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class ClientInfo(OcpiModel):
    party_id: CiString3
    country_code: CiString2
    role: OpenEnum[Role]
    status: OpenEnum[ConnectionStatus]
    last_updated: DateTime
