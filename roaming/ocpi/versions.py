"""The OCPI versions we speak: one `Wire` per version, chosen per partner connection.

A `Wire` is everything that differs between versions on the wire: the models a body is read with, the mapping
of those models to the records of `roaming.records` (and of our models back to the version's JSON), and the
transport rules (how our token is encoded, whether routing headers exist). The services see only records; the
views pick the wire by the version in the URL the partner called, outgoing calls by `Partner.version` (the
version agreed in the credentials handshake). Adding a version is a package beside `v2_2_1/` and an entry in
`WIRES` (README, "Adding an OCPI version or module").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from roaming.records import (
    CdrData,
    ConnectorData,
    EndpointData,
    EvseData,
    HubClientData,
    LocationData,
    PartyRoleData,
    SessionChanges,
    SessionData,
    TariffData,
)

from . import v2_1_1, v2_2_1, v2_3_0
from .v2_1_1 import mapping as m211
from .v2_2_1 import mapping as m221
from .v2_3_0 import mapping as m230

if TYPE_CHECKING:
    from roaming.models import Partner

Party = tuple[str, str]
Json = dict[str, Any]


class UnsupportedCommand(Exception):
    """The partner's OCPI version has no such command."""


@dataclass(frozen=True)
class CommandAnswer:
    """The CPO's synchronous answer to a command, in our terms."""

    result: str  # CommandResponseType
    timeout: int | None  # seconds to wait for the asynchronous result (None: the version has no timeout)
    message: str


@dataclass(frozen=True)
class HubWire:
    """The HubClientInfo module (2.2 on): what a hub tells us about each party behind it."""

    ClientInfo: type[BaseModel]
    client_info_data: Callable[[Any], HubClientData]
    client_info_to_ocpi: Callable[..., Json]


@dataclass(frozen=True)
class Wire:
    """One OCPI version on the wire. Mapping functions that take a `party` use it where the version's objects
    do not name their own (2.1.1): the party in the URL, or the partner's CPO party on a pull."""

    version: str
    # Transport.
    token_base64: bool  # how a new connection sends our token (the partner's flag can override it)
    routing_headers: bool  # OCPI-from/to-* exist (2.2 on)
    max_url_id_length: int  # longest object id in our receiver URLs
    # Versions and credentials.
    endpoints: Callable[[Any], list[EndpointData]]  # version details `data` → endpoints
    Credentials: type[BaseModel]
    credentials_roles: Callable[[Any], list[PartyRoleData]]
    our_credentials: Callable[[str, str, Json], Json]  # (token, versions url, business details)
    # Locations.
    Location: type[BaseModel]
    EVSE: type[BaseModel]
    Connector: type[BaseModel]
    LocationPatch: type[BaseModel]
    EVSEPatch: type[BaseModel]
    ConnectorPatch: type[BaseModel]
    location_data: Callable[[Any, Party], LocationData]
    evse_data: Callable[[Any], EvseData]
    connector_data: Callable[[Any], ConnectorData]
    location_patch_data: Callable[[Any], tuple[Json, list[EvseData] | None]]
    evse_patch_data: Callable[[Any], tuple[Json, list[ConnectorData] | None]]
    connector_patch_data: Callable[[Any], Json]
    location_to_ocpi: Callable[..., Json]
    evse_to_ocpi: Callable[..., Json]
    connector_to_ocpi: Callable[..., Json]
    # Tariffs.
    Tariff: type[BaseModel]
    tariff_data: Callable[[Any, Party], TariffData]
    tariff_to_ocpi: Callable[..., Json]
    # Sessions.
    Session: type[BaseModel]
    SessionPatch: type[BaseModel]
    session_data: Callable[[Any, Party], SessionData]
    session_patch_data: Callable[[Any], SessionChanges]
    session_to_ocpi: Callable[..., Json]
    # CDRs.
    CDR: type[BaseModel]
    cdr_data: Callable[[Any, Json | None, Party], CdrData]
    # Tokens (ours, as Sender; pushed to the CPO's Receiver).
    token_to_ocpi: Callable[..., Json]
    token_push_path: Callable[[str, Any], str]  # (party path "NL/EMS", token) → path below the tokens URL
    LocationReferences: type[BaseModel]
    authorization_info: Callable[..., Json]
    # Commands.
    command_request: Callable[[str, Json], Json]  # (type, 2.2.1-shaped body) → body to send; raises
    command_answer: Callable[[Any], CommandAnswer]
    command_result: Callable[[Json], tuple[str, str]]  # POSTed to our response_url → (result, message)
    # What only some versions have (None: the version has no such module or object; 2.2 on).
    hubs: HubWire | None = None
    ChargingPreferences: type[BaseModel] | None = None
    hub_parties_in_credentials: bool = False  # a hub lists its parties as credentials roles (2.3.0)
    endpoint_roles: bool = True  # version details name each endpoint's interface role (2.2 on)


def _same_party(function: Callable[[Any], Any]) -> Callable[[Any, Party], Any]:
    """2.2.1 objects carry their own country_code/party_id: the party from elsewhere is not needed."""
    return lambda obj, party: function(obj)


def _cdr_221(cdr: Any, raw: Json | None, party: Party) -> CdrData:
    return m221.cdr_data(cdr, raw)


def _endpoints_221(data: Any) -> list[EndpointData]:
    details = v2_2_1.VersionDetails.model_validate(data)
    return [EndpointData(str(e.identifier), str(e.role), str(e.url)) for e in details.endpoints]


def _roles_221(credentials: Any) -> list[PartyRoleData]:
    return [
        PartyRoleData(
            role=str(role.role),
            country_code=role.country_code.upper(),
            party_id=role.party_id.upper(),
            business_name=role.business_details.name,
            business_website=str(role.business_details.website or ""),
            logo_url=str(role.business_details.logo.url) if role.business_details.logo else "",
        )
        for role in credentials.roles
    ]


def _our_credentials_221(token: str, url: str, business: Json) -> Json:
    from django.conf import settings

    return {
        "token": token,
        "url": url,
        "roles": [
            {
                "role": "EMSP",
                "country_code": settings.OCPI_COUNTRY_CODE,
                "party_id": settings.OCPI_PARTY_ID,
                "business_details": business,
            }
        ],
    }


def _token_path_221(party: str, token: Any) -> str:
    from urllib.parse import quote

    return f"{party}/{quote(token.uid, safe='')}?type={quote(token.type)}"


def _authorization_info_221(
    *, allowed: str, token: Any, reference: str, location: Json | None, info: Json | None
) -> Json:
    doc: Json = {"allowed": allowed, "token": m221.token_to_ocpi(token), "authorization_reference": reference}
    if location is not None:
        doc["location"] = location
    if info is not None:
        doc["info"] = info
    return doc


_COMMANDS_221: dict[str, type[BaseModel]] = {
    "START_SESSION": v2_2_1.StartSession,
    "STOP_SESSION": v2_2_1.StopSession,
    "RESERVE_NOW": v2_2_1.ReserveNow,
    "CANCEL_RESERVATION": v2_2_1.CancelReservation,
    "UNLOCK_CONNECTOR": v2_2_1.UnlockConnector,
}


def validated_command(models: dict[str, type[BaseModel]], version: str, command_type: str, body: Json) -> Json:
    """The body checked against the version's model (lengths, required fields); `pydantic.ValidationError` or
    `UnsupportedCommand` when it cannot be sent."""
    model = models.get(command_type)
    if model is None:
        raise UnsupportedCommand(f"OCPI {version} has no {command_type} command.")
    checked = model.model_validate({k: v for k, v in body.items() if v not in (None, "")})
    return checked.model_dump(mode="json", exclude_none=True)


def _command_answer_221(data: Any) -> CommandAnswer:
    response = v2_2_1.CommandResponse.model_validate(data)
    return CommandAnswer(str(response.result), response.timeout, " ".join(m.text for m in response.message))


def _command_result_221(payload: Json) -> tuple[str, str]:
    result = v2_2_1.CommandResult.model_validate(payload)
    return str(result.result), " ".join(m.text for m in result.message)


V2_2_1 = Wire(
    version="2.2.1",
    token_base64=True,
    routing_headers=True,
    max_url_id_length=36,
    endpoints=_endpoints_221,
    Credentials=v2_2_1.Credentials,
    credentials_roles=_roles_221,
    our_credentials=_our_credentials_221,
    Location=v2_2_1.Location,
    EVSE=v2_2_1.EVSE,
    Connector=v2_2_1.Connector,
    LocationPatch=v2_2_1.LocationPatch,
    EVSEPatch=v2_2_1.EVSEPatch,
    ConnectorPatch=v2_2_1.ConnectorPatch,
    location_data=_same_party(m221.location_data),
    evse_data=m221.evse_data,
    connector_data=m221.connector_data,
    location_patch_data=m221.location_patch_data,
    evse_patch_data=m221.evse_patch_data,
    connector_patch_data=m221.connector_patch_data,
    location_to_ocpi=m221.location_to_ocpi,
    evse_to_ocpi=m221.evse_to_ocpi,
    connector_to_ocpi=m221.connector_to_ocpi,
    Tariff=v2_2_1.Tariff,
    tariff_data=_same_party(m221.tariff_data),
    tariff_to_ocpi=m221.tariff_to_ocpi,
    Session=v2_2_1.Session,
    SessionPatch=v2_2_1.SessionPatch,
    session_data=_same_party(m221.session_data),
    session_patch_data=m221.session_patch_data,
    session_to_ocpi=m221.session_to_ocpi,
    CDR=v2_2_1.CDR,
    cdr_data=_cdr_221,
    token_to_ocpi=m221.token_to_ocpi,
    token_push_path=_token_path_221,
    LocationReferences=v2_2_1.LocationReferences,
    authorization_info=_authorization_info_221,
    command_request=lambda command_type, body: validated_command(_COMMANDS_221, "2.2.1", command_type, body),
    command_answer=_command_answer_221,
    command_result=_command_result_221,
    hubs=HubWire(v2_2_1.ClientInfo, m221.client_info_data, m221.client_info_to_ocpi),
    ChargingPreferences=v2_2_1.ChargingPreferences,
)


def _roles_230(credentials: Any) -> list[PartyRoleData]:
    return m230.hub_role(credentials) + _roles_221(credentials)


def _cdr_230(cdr: Any, raw: Json | None, party: Party) -> CdrData:
    return m230.cdr_data(cdr, raw)


#: 2.3.0: 2.2.1's wire where the shapes are the same (tokens, commands, hub client info, charging preferences,
#: the transport rules), its own models and mappings where 2.3.0 differs (v2_3_0/).
V2_3_0 = replace(
    V2_2_1,
    version="2.3.0",
    Credentials=v2_3_0.Credentials,
    credentials_roles=_roles_230,
    Location=v2_3_0.Location,
    EVSE=v2_3_0.EVSE,
    Connector=v2_3_0.Connector,
    LocationPatch=v2_3_0.LocationPatch,
    EVSEPatch=v2_3_0.EVSEPatch,
    ConnectorPatch=v2_3_0.ConnectorPatch,
    Tariff=v2_3_0.Tariff,
    tariff_data=_same_party(m230.tariff_data),
    tariff_to_ocpi=m230.tariff_to_ocpi,
    Session=v2_3_0.Session,
    SessionPatch=v2_3_0.SessionPatch,
    CDR=v2_3_0.CDR,
    cdr_data=_cdr_230,
    hub_parties_in_credentials=True,
)

_COMMANDS_211: dict[str, type[BaseModel]] = {
    "START_SESSION": v2_1_1.StartSession,
    "STOP_SESSION": v2_1_1.StopSession,
    "RESERVE_NOW": v2_1_1.ReserveNow,
    "UNLOCK_CONNECTOR": v2_1_1.UnlockConnector,
}


def _command_request_211(command_type: str, body: Json) -> Json:
    return validated_command(_COMMANDS_211, "2.1.1", command_type, m211.command_body(command_type, body))


def _command_answer_211(data: Any) -> CommandAnswer:
    return CommandAnswer(*m211.command_answer(data))


#: 2.1.1: its own models and mappings for every object (v2_1_1/, mapped through 2.2.1's mapping); raw tokens, no
#: routing headers, no hubs and no charging preferences.
V2_1_1 = Wire(
    version="2.1.1",
    token_base64=False,
    routing_headers=False,
    max_url_id_length=36,  # 2.1.1 allows 39 for location ids and EVSE uids; our columns hold 36
    endpoints=m211.endpoints,
    Credentials=v2_1_1.Credentials,
    credentials_roles=m211.credentials_roles,
    our_credentials=m211.our_credentials,
    Location=v2_1_1.Location,
    EVSE=v2_1_1.EVSE,
    Connector=v2_1_1.Connector,
    LocationPatch=v2_1_1.LocationPatch,
    EVSEPatch=v2_1_1.EVSEPatch,
    ConnectorPatch=v2_1_1.ConnectorPatch,
    location_data=m211.location_data,
    evse_data=m211.evse_data,
    connector_data=m211.connector_data,
    location_patch_data=m211.location_patch_data,
    evse_patch_data=m211.evse_patch_data,
    connector_patch_data=m211.connector_patch_data,
    location_to_ocpi=m211.location_to_ocpi,
    evse_to_ocpi=m211.evse_to_ocpi,
    connector_to_ocpi=m211.connector_to_ocpi,
    Tariff=v2_1_1.Tariff,
    tariff_data=m211.tariff_data,
    tariff_to_ocpi=m211.tariff_to_ocpi,
    Session=v2_1_1.Session,
    SessionPatch=v2_1_1.SessionPatch,
    session_data=m211.session_data,
    session_patch_data=m211.session_patch_data,
    session_to_ocpi=m211.session_to_ocpi,
    CDR=v2_1_1.CDR,
    cdr_data=m211.cdr_data,
    token_to_ocpi=m211.token_to_ocpi,
    token_push_path=m211.token_push_path,
    LocationReferences=v2_1_1.LocationReferences,
    authorization_info=m211.authorization_info,
    command_request=_command_request_211,
    command_answer=_command_answer_211,
    command_result=m211.command_result,
    endpoint_roles=False,
)

#: Every version we speak with partners, best first: the handshake picks the first one both sides list.
WIRES: dict[str, Wire] = {"2.3.0": V2_3_0, "2.2.1": V2_2_1, "2.1.1": V2_1_1}


def wire_for_version(version: str) -> Wire:
    """The wire of a version we route (a view's URL version); unknown versions read as 2.2.1."""
    return WIRES.get(version) or V2_2_1


def wire_for(partner: Partner) -> Wire:
    """The wire of the version agreed with `partner` (2.2.1 before any handshake)."""
    return wire_for_version(partner.version or "2.2.1")
