"""OCPI 2.1.1 objects ↔ the records the roaming services work with (`roaming.records`), and back.

A 2.1.1 object is rewritten into the 2.2.1 shape it corresponds to, read with the 2.2.1 model and mapped by 2.2.1's
mapping, so that both versions store the same columns by the same rules; what 2.1.1 lacks comes from the `party`
(the party in the URL, or the connection's CPO on a pull). Going out, 2.2.1's JSON is rewritten into 2.1.1's.

What the rewriting decides:
- a Location is published (2.1.1 has no `publish`); its `type` is the 2.2.1 `parking_type` where one exists,
  else (OTHER, UNKNOWN) kept as sent in `extra`; a connector's `voltage`/`amperage`/`tariff_id` are the 2.2.1
  `max_voltage`/`max_amperage`/`tariff_ids`; EnvironmentalImpact `source` is `category`;
- a session's or CDR's token is named by its `auth_id`, our contract id, under our own party (2.1.1 has no hubs:
  what a CPO sends us concerns our tokens); the services find the token by it (`token_uid` left empty);
- a session's or CDR's embedded Location gives location id, EVSE uid and connector id (its only EVSE and
  connector); the Location object itself is kept in `extra` (sessions) or `raw` (CDRs) and served back;
- costs are plain numbers excl. VAT: `total_cost` is a Price with `excl_vat` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from roaming.records import (
    CdrData,
    ConnectorData,
    EndpointData,
    EvseData,
    LocationData,
    PartyRoleData,
    SessionChanges,
    SessionData,
    TariffData,
)

from .. import v2_2_1 as v221
from ..mapping import dump, put_if
from ..v2_2_1 import mapping as m221
from ..v2_2_1.types import format_datetime
from .credentials import Credentials
from .locations import EVSE, Connector, ConnectorPatch, EVSEPatch, Location, LocationPatch
from .sessions import CDR, Session, SessionPatch
from .tariffs import Tariff
from .tokens import CommandResponse
from .versions import VersionDetails

if TYPE_CHECKING:
    from drivers.models import Token as DriverToken
    from roaming import models

Json = dict[str, Any]
Party = tuple[str, str]

#: 2.1.1 LocationTypes that are 2.2.1 ParkingTypes; OTHER and UNKNOWN are not.
_PARKING_TYPES = frozenset({"ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT"})
#: (2.1.1 name, 2.2.1 name) of the fields renamed between the versions, per object.
_CONNECTOR_NAMES = (("voltage", "max_voltage"), ("amperage", "max_amperage"))
_SESSION_NAMES = (("start_datetime", "start_date_time"), ("end_datetime", "end_date_time"))
_CDR_NAMES = (("stop_date_time", "end_date_time"),)
#: 2.2.1 fields with no 2.1.1 counterpart, left out of what we serve in 2.1.1.
_LOCATION_ONLY_221 = ("country_code", "party_id", "publish", "publish_allowed_to", "state", "parking_type")
_TARIFF_ONLY_221 = ("country_code", "party_id", "type", "min_price", "max_price", "start_date_time", "end_date_time")
_RESTRICTIONS_ONLY_221 = ("min_current", "max_current", "reservation")
#: Our 2.2.1 token types as 2.1.1 TokenTypes (RFID or OTHER).
_TOKEN_TYPES = {"RFID": "RFID"}
#: 2.1.1 CommandResponseTypes that are no 2.2.1 CommandResultType, as results of ours.
_RESULTS = {"UNKNOWN_SESSION": "FAILED"}


def _renamed(doc: Json, names: tuple[tuple[str, str], ...], *, forward: bool = True) -> Json:
    """`doc` with each (2.1.1, 2.2.1) pair of `names` renamed one way (`forward`: 2.1.1 → 2.2.1) or back."""
    pairs = dict(names) if forward else {new: old for old, new in names}
    return {pairs.get(key, key): value for key, value in doc.items()}


def _our_party() -> Party:
    return settings.OCPI_COUNTRY_CODE.upper(), settings.OCPI_PARTY_ID.upper()


# --- versions and credentials ---------------------------------------------------------------------------------

#: A 2.1.1 endpoint names no interface role: a CPO's tokens and commands are what it receives, the rest it sends.
_RECEIVER_MODULES = frozenset({"tokens", "commands"})


def endpoints(data: Any) -> list[EndpointData]:
    details = VersionDetails.model_validate(data)
    return [
        EndpointData(str(e.identifier), "RECEIVER" if str(e.identifier) in _RECEIVER_MODULES else "SENDER", str(e.url))
        for e in details.endpoints
    ]


def credentials_roles(credentials: Credentials) -> list[PartyRoleData]:
    """A 2.1.1 connection is one party; we are an eMSP, so the party is a CPO."""
    business = credentials.business_details
    return [
        PartyRoleData(
            role="CPO",
            country_code=credentials.country_code.upper(),
            party_id=credentials.party_id.upper(),
            business_name=business.name,
            business_website=str(business.website or ""),
            logo_url=str(business.logo.url) if business.logo else "",
        )
    ]


def our_credentials(token: str, url: str, business: Json) -> Json:
    return {
        "token": token,
        "url": url,
        "business_details": business,
        "party_id": settings.OCPI_PARTY_ID,
        "country_code": settings.OCPI_COUNTRY_CODE,
    }


# --- locations: 2.1.1 → 2.2.1 ---------------------------------------------------------------------------------


def _energy_mix_221(mix: Json) -> Json:
    impacts = [_renamed(i, (("source", "category"),)) for i in mix.get("environ_impact", [])]
    return {**mix, "environ_impact": impacts} if impacts else mix


def _connector_221(doc: Json) -> Json:
    out = _renamed(doc, _CONNECTOR_NAMES)
    tariff_id = out.pop("tariff_id", None)
    if tariff_id:
        out["tariff_ids"] = [tariff_id]
    return out


def _evse_221(doc: Json) -> Json:
    if "connectors" in doc:
        return {**doc, "connectors": [_connector_221(c) for c in doc["connectors"]]}
    return doc


def _location_221(doc: Json, party: Party | None) -> Json:
    out = {key: value for key, value in doc.items() if key != "type"}
    kind = doc.get("type")
    if kind in _PARKING_TYPES:
        out["parking_type"] = kind
    elif kind is not None:
        out["type"] = kind  # not a column: kept in `extra`, served back as sent
    if "evses" in doc:
        out["evses"] = [_evse_221(e) for e in doc["evses"]]
    if "energy_mix" in doc:
        out["energy_mix"] = _energy_mix_221(doc["energy_mix"])
    hours = doc.get("opening_times")
    if hours is not None and "twentyfourseven" not in hours:
        out["opening_times"] = {**hours, "twentyfourseven": False}
    if party:
        out.update(country_code=party[0], party_id=party[1], publish=True)
        out.setdefault("time_zone", "")
    return out


def location_data(location: Location, party: Party) -> LocationData:
    return m221.location_data(v221.Location.model_validate(_location_221(dump(location), party)))


def evse_data(evse: EVSE) -> EvseData:
    return m221.evse_data(v221.EVSE.model_validate(_evse_221(dump(evse))))


def connector_data(connector: Connector) -> ConnectorData:
    return m221.connector_data(v221.Connector.model_validate(_connector_221(dump(connector))))


def location_patch_data(patch: LocationPatch) -> tuple[Json, list[EvseData] | None]:
    doc = _location_221(dump(patch), None)
    return m221.location_patch_data(v221.LocationPatch.model_validate({**doc, "last_updated": patch.last_updated}))


def evse_patch_data(patch: EVSEPatch) -> tuple[Json, list[ConnectorData] | None]:
    doc = _evse_221(dump(patch))
    return m221.evse_patch_data(v221.EVSEPatch.model_validate({**doc, "last_updated": patch.last_updated}))


def connector_patch_data(patch: ConnectorPatch) -> Json:
    doc = _connector_221(dump(patch))
    return m221.connector_patch_data(v221.ConnectorPatch.model_validate({**doc, "last_updated": patch.last_updated}))


# --- locations: our models → 2.1.1 ----------------------------------------------------------------------------


def _connector_211(doc: Json) -> Json:
    out = _renamed(doc, _CONNECTOR_NAMES, forward=False)
    out.pop("max_electric_power", None)
    tariff_ids = out.pop("tariff_ids", None)
    if tariff_ids:
        out["tariff_id"] = tariff_ids[0]  # 2.1.1 has one tariff per connector
    return out


def _evse_211(doc: Json) -> Json:
    return {**doc, "connectors": [_connector_211(c) for c in doc.get("connectors", [])]}


def _location_211(doc: Json) -> Json:
    out = {key: value for key, value in doc.items() if key not in _LOCATION_ONLY_221}
    out.setdefault("type", doc.get("parking_type") or "UNKNOWN")
    out["evses"] = [_evse_211(e) for e in doc.get("evses", [])]
    if not out.get("time_zone"):
        out.pop("time_zone", None)
    mix = doc.get("energy_mix")
    if mix and mix.get("environ_impact"):
        out["energy_mix"] = {
            **mix,
            "environ_impact": [_renamed(i, (("source", "category"),), forward=False) for i in mix["environ_impact"]],
        }
    hours = doc.get("opening_times")
    if hours and hours.get("regular_hours") and not hours.get("twentyfourseven"):
        out["opening_times"] = {key: value for key, value in hours.items() if key != "twentyfourseven"}
    return out


def location_to_ocpi(location: models.Location, evses: list[tuple[models.Evse, list[models.Connector]]]) -> Json:
    return _location_211(m221.location_to_ocpi(location, evses))


def evse_to_ocpi(evse: models.Evse, connectors: list[models.Connector]) -> Json:
    return _evse_211(m221.evse_to_ocpi(evse, connectors))


def connector_to_ocpi(connector: models.Connector) -> Json:
    return _connector_211(m221.connector_to_ocpi(connector))


# --- tariffs --------------------------------------------------------------------------------------------------


def _tariff_221(doc: Json, party: Party) -> Json:
    out = {**doc, "country_code": party[0], "party_id": party[1]}
    if "energy_mix" in doc:
        out["energy_mix"] = _energy_mix_221(doc["energy_mix"])
    return out


def tariff_data(tariff: Tariff, party: Party) -> TariffData:
    return m221.tariff_data(v221.Tariff.model_validate(_tariff_221(dump(tariff), party)))


def _tariff_211(doc: Json) -> Json:
    out = {key: value for key, value in doc.items() if key not in _TARIFF_ONLY_221}
    elements = []
    for element in doc.get("elements", []):
        element_doc: Json = {
            "price_components": [
                {key: value for key, value in c.items() if key != "vat"} for c in element["price_components"]
            ]
        }
        restrictions = {
            key: value
            for key, value in (element.get("restrictions") or {}).items()
            if key not in _RESTRICTIONS_ONLY_221
        }
        if restrictions:
            element_doc["restrictions"] = restrictions
        elements.append(element_doc)
    out["elements"] = elements
    return out


def tariff_to_ocpi(
    tariff: models.Tariff, elements: list[tuple[models.TariffElement, list[models.PriceComponent]]]
) -> Json:
    return _tariff_211(m221.tariff_to_ocpi(tariff, elements))


# --- sessions and CDRs ----------------------------------------------------------------------------------------


def _token_221(auth_id: str) -> Json:
    """The `cdr_token` a 2.1.1 `auth_id` stands for: ours, named by contract id only (the services find the token)."""
    country_code, party_id = _our_party()
    return {"country_code": country_code, "party_id": party_id, "uid": "", "type": "RFID", "contract_id": auth_id}


def _place(location: Json) -> Json:
    """Location id, EVSE uid and connector id of a session's or CDR's Location (its only EVSE and connector)."""
    evse = (location.get("evses") or [{}])[0]
    connector = (evse.get("connectors") or [{}])[0]
    return {"location_id": location["id"], "evse_uid": evse.get("uid", ""), "connector_id": connector.get("id", "")}


def _session_221(doc: Json, party: Party | None) -> Json:
    out = _renamed(doc, _SESSION_NAMES)
    if "auth_id" in out:
        out["cdr_token"] = _token_221(out.pop("auth_id"))
    if "location" in out:
        out.update(_place(out["location"]))  # the Location itself stays: in `extra`, served back as sent
    if out.get("total_cost") is not None:
        out["total_cost"] = {"excl_vat": out["total_cost"]}
    if party:
        out.update(country_code=party[0], party_id=party[1])
    return out


def session_data(session: Session, party: Party) -> SessionData:
    return m221.session_data(v221.Session.model_validate(_session_221(dump(session), party)))


def session_patch_data(patch: SessionPatch) -> SessionChanges:
    doc = _session_221(dump(patch), None)
    return m221.session_patch_data(v221.SessionPatch.model_validate({**doc, "last_updated": patch.last_updated}))


def session_to_ocpi(session: models.ChargingSession) -> Json:
    doc = _renamed(m221.session_to_ocpi(session), _SESSION_NAMES, forward=False)
    for key in ("country_code", "party_id", "authorization_reference", "location_id", "evse_uid", "connector_id"):
        doc.pop(key, None)
    token = doc.pop("cdr_token", None) or {}
    doc["auth_id"] = session.contract_id or token.get("contract_id", "")
    doc.setdefault("location", {"id": session.ocpi_location_id})
    total = doc.get("total_cost")
    if isinstance(total, dict):
        doc["total_cost"] = total.get("excl_vat")
    elif session.total_cost_excl_vat is not None:
        doc["total_cost"] = session.total_cost_excl_vat
    return doc


def _cdr_location(location: Json) -> Json:
    """The 2.2.1 CdrLocation of a 2.1.1 CDR's Location. One without its EVSE and connector is left without them,
    and refused as a 2.2.1 CdrLocation without them is: a CDR must say where the energy went."""
    evse = (location.get("evses") or [{}])[0]
    connector = (evse.get("connectors") or [{}])[0]
    out: Json = {"id": location["id"]}
    for key in ("name", "address", "city", "postal_code", "country", "coordinates"):
        put_if(out, key, location.get(key))
    for key, value in (
        ("evse_uid", evse.get("uid")),
        ("evse_id", evse.get("evse_id", "")),
        ("connector_id", connector.get("id")),
        ("connector_standard", connector.get("standard")),
        ("connector_format", connector.get("format")),
        ("connector_power_type", connector.get("power_type")),
    ):
        if value is not None:
            out[key] = value
    return out


def _cdr_221(doc: Json, party: Party) -> Json:
    out = _renamed(doc, _CDR_NAMES)
    out["cdr_token"] = _token_221(out.pop("auth_id"))
    out["cdr_location"] = _cdr_location(out.pop("location"))
    out["total_cost"] = {"excl_vat": out["total_cost"]}
    out["tariffs"] = [_tariff_221(t, party) for t in out.get("tariffs", [])]
    out.update(country_code=party[0], party_id=party[1])
    return out


def cdr_data(cdr: CDR, raw: Json | None, party: Party) -> CdrData:
    """`raw`, the CDR as received in 2.1.1, is what we keep and serve back."""
    doc = dump(cdr)
    return m221.cdr_data(v221.CDR.model_validate(_cdr_221(doc, party)), raw if raw is not None else doc)


# --- our tokens -------------------------------------------------------------------------------------------------


def token_to_ocpi(token: DriverToken) -> Json:
    """One of our tokens as a 2.1.1 Token: `auth_id` is our contract id; app and ad-hoc tokens are OTHER."""
    doc: Json = {
        "uid": token.uid,
        "type": _TOKEN_TYPES.get(token.type, "OTHER"),
        "auth_id": token.contract_id,
        "issuer": token.issuer,
        "valid": token.valid,
        "whitelist": token.whitelist,
    }
    put_if(doc, "visual_number", token.visual_number)
    put_if(doc, "language", token.language)
    doc["last_updated"] = format_datetime(token.last_updated)
    return doc


def token_push_path(party: str, token: DriverToken) -> str:
    """2.1.1's Receiver URL has no `?type=`."""
    from urllib.parse import quote

    return f"{party}/{quote(token.uid, safe='')}"


def authorization_info(*, allowed: str, token: Any, reference: str, location: Json | None, info: Json | None) -> Json:
    """2.1.1 AuthorizationInfo: no token, no authorization_reference."""
    doc: Json = {"allowed": allowed}
    if location is not None:
        doc["location"] = location
    if info is not None:
        doc["info"] = info
    return doc


# --- commands ---------------------------------------------------------------------------------------------------


def command_body(command_type: str, body: Json) -> Json:
    """A command body in 2.2.1's shape (with our 2.1.1 token) made 2.1.1's: no authorization_reference, no
    connector_id on START_SESSION, and an int reservation_id (our hex references read as their first 48 bits,
    the same number each time)."""
    out = {key: value for key, value in body.items() if key != "authorization_reference"}
    if command_type == "START_SESSION":
        out.pop("connector_id", None)
    reservation = out.get("reservation_id")
    if isinstance(reservation, str):
        out["reservation_id"] = (
            int(reservation) if reservation.isdigit() else int(reservation.replace("-", "")[:12], 16)
        )
    return out


def command_answer(data: Any) -> tuple[str, None, str]:
    return str(CommandResponse.model_validate(data).result), None, ""


def command_result(payload: Json) -> tuple[str, str]:
    """The CommandResponse POSTed to our response_url, as a result of ours (UNKNOWN_SESSION: FAILED, said so)."""
    result = str(CommandResponse.model_validate(payload).result)
    return _RESULTS.get(result, result), result if result in _RESULTS else ""
