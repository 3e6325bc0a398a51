"""OCPI 2.2.1 objects ↔ the plain field dicts the roaming services store, and back.

The services never see pydantic models: they get the records of `roaming.records` (plain dataclasses
of model field values) from here, and the GET endpoints turn model instances back into OCPI JSON
here. Fields we keep as columns are taken out of the partner's object; everything else stays in
`extra` exactly as sent (JSON form), so what we serve back is what we received.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings

from roaming.records import (
    CdrData,
    ConnectorData,
    ElementData,
    EvseData,
    HubClientData,
    LocationData,
    SessionChanges,
    SessionData,
    TariffData,
)

from .cdrs import CDR, CdrToken
from .hubclientinfo import ClientInfo
from .locations import EVSE, Connector, ConnectorPatch, EVSEPatch, Location, LocationPatch
from .sessions import Session, SessionPatch
from .tariffs import Tariff
from .types import OcpiModel, PatchModel, Price, decimal_to_json_number, format_datetime

if TYPE_CHECKING:
    from drivers.models import Token as DriverToken
    from roaming import models

# Columns taken out of each object; what remains is its `extra`.
_LOCATION_COLUMNS = (
    "country_code",
    "party_id",
    "id",
    "publish",
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "parking_type",
    "time_zone",
    "facilities",
    "opening_times",
    "last_updated",
    "evses",
)
_EVSE_COLUMNS = (
    "uid",
    "evse_id",
    "status",
    "capabilities",
    "floor_level",
    "physical_reference",
    "parking_restrictions",
    "last_updated",
    "connectors",
)
_CONNECTOR_COLUMNS = (
    "id",
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_electric_power",
    "tariff_ids",
    "terms_and_conditions",
    "last_updated",
)
_TARIFF_COLUMNS = (
    "country_code",
    "party_id",
    "id",
    "currency",
    "type",
    "tariff_alt_text",
    "tariff_alt_url",
    "min_price",
    "max_price",
    "start_date_time",
    "end_date_time",
    "energy_mix",
    "last_updated",
    "elements",
)


def _without_last_updated(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_last_updated(v) for k, v in value.items() if k != "last_updated"}
    if isinstance(value, list):
        return [_without_last_updated(v) for v in value]
    return value


# A `"last_updated":"…"` member of canonical JSON (sorted keys, no spaces): after a comma, or first in its
# object. Inside a JSON string every quote is escaped, so neither form can match there.
_LAST_UPDATED = re.compile(r',"last_updated":"[^"\\]*"(?=[,}])|(?<=\{)"last_updated":"[^"\\]*"(?:,|(?=\}))')


def content_hash(document: dict[str, Any]) -> str:
    """Same content, same hash, whatever `last_updated` says (some CPOs bump it without a change).

    The hash of the canonical JSON without any `last_updated` member. The members are cut out of the JSON
    text (C: `json.dumps`, `re`) rather than out of a copy of the document made in Python first: for a
    location with its EVSEs and connectors the recursive copy cost 1.5 s of a 3,000-location pull, and
    twice the encoding itself (profiled). The text is the same either way, so is every stored hash. A
    `last_updated` the pattern does not take (not a plain string) falls back to the copy.
    """
    canonical = _LAST_UPDATED.sub("", json.dumps(document, sort_keys=True, separators=(",", ":"), default=str))
    if '"last_updated":' in canonical:
        canonical = json.dumps(_without_last_updated(document), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def _coordinate(document: dict[str, Any] | None, key: str) -> Decimal | None:
    return Decimal(str(document[key])) if document and document.get(key) is not None else None


def _rest(document: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in columns}


def _dump(model: OcpiModel) -> dict[str, Any]:
    """The object as the partner sent it (only fields it set), in JSON form."""
    return model.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def connector_data(connector: Connector, doc: dict[str, Any] | None = None) -> ConnectorData:
    """`doc` is the connector's JSON form when the caller dumped a parent already (one dump per location)."""
    doc = _dump(connector) if doc is None else doc
    return ConnectorData(
        ocpi_id=connector.id,
        fields={
            "standard": str(connector.standard),
            "format": str(connector.format),
            "power_type": str(connector.power_type),
            "max_voltage": connector.max_voltage,
            "max_amperage": connector.max_amperage,
            "max_electric_power": connector.max_electric_power,
            "tariff_ids": list(connector.tariff_ids),
            "terms_and_conditions": connector.terms_and_conditions or "",
            "last_updated": connector.last_updated,
            "extra": _rest(doc, _CONNECTOR_COLUMNS),
        },
    )


def evse_data(evse: EVSE, doc: dict[str, Any] | None = None) -> EvseData:
    doc = _dump(evse) if doc is None else doc
    coordinates = doc.get("coordinates")
    return EvseData(
        uid=evse.uid,
        fields={
            "evse_id": evse.evse_id or "",
            "status": str(evse.status),
            "capabilities": [str(c) for c in evse.capabilities],
            "floor_level": evse.floor_level or "",
            "physical_reference": evse.physical_reference or "",
            "latitude": _coordinate(coordinates, "latitude"),
            "longitude": _coordinate(coordinates, "longitude"),
            "parking_restrictions": [str(p) for p in evse.parking_restrictions],
            "last_updated": evse.last_updated,
            "extra": _rest(doc, _EVSE_COLUMNS),
        },
        connectors=[connector_data(c, d) for c, d in zip(evse.connectors, doc.get("connectors", []), strict=True)],
    )


def location_data(location: Location) -> LocationData:
    doc = _dump(location)
    operator = doc.get("operator") or {}
    return LocationData(
        country_code=location.country_code.upper(),
        party_id=location.party_id.upper(),
        ocpi_id=location.id,
        last_updated=location.last_updated,
        content_hash=content_hash(doc),
        fields={
            "publish": location.publish,
            "name": location.name or "",
            "address": location.address,
            "city": location.city,
            "postal_code": location.postal_code or "",
            "state": location.state or "",
            "country": location.country,
            "latitude": _coordinate(doc["coordinates"], "latitude"),
            "longitude": _coordinate(doc["coordinates"], "longitude"),
            "parking_type": str(location.parking_type or ""),
            "time_zone": location.time_zone,
            "operator_name": operator.get("name", ""),
            "facilities": [str(f) for f in location.facilities],
            "opening_times": doc.get("opening_times"),
            "charging_when_closed": location.charging_when_closed is not False,
            "last_updated": location.last_updated,
            "extra": _rest(doc, _LOCATION_COLUMNS),
        },
        evses=[evse_data(e, d) for e, d in zip(location.evses, doc.get("evses", []), strict=True)],
    )


def tariff_data(tariff: Tariff) -> TariffData:
    doc = tariff.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return TariffData(
        country_code=tariff.country_code.upper(),
        party_id=tariff.party_id.upper(),
        ocpi_id=tariff.id,
        last_updated=tariff.last_updated,
        content_hash=content_hash(doc),
        fields={
            "currency": tariff.currency,
            "type": str(tariff.type or ""),
            "min_price_excl_vat": tariff.min_price.excl_vat if tariff.min_price else None,
            "min_price_incl_vat": tariff.min_price.incl_vat if tariff.min_price else None,
            "max_price_excl_vat": tariff.max_price.excl_vat if tariff.max_price else None,
            "max_price_incl_vat": tariff.max_price.incl_vat if tariff.max_price else None,
            "start_date_time": tariff.start_date_time,
            "end_date_time": tariff.end_date_time,
            "alt_text": doc.get("tariff_alt_text", []),
            "alt_url": tariff.tariff_alt_url or "",
            "energy_mix": doc.get("energy_mix"),
            "last_updated": tariff.last_updated,
            "extra": _rest(doc, _TARIFF_COLUMNS),
        },
        elements=[
            ElementData(
                restrictions=element_doc.get("restrictions"),
                components=[
                    {"type": str(c.type), "price": c.price, "vat": c.vat, "step_size": c.step_size}
                    for c in element.price_components
                ],
            )
            for element, element_doc in zip(tariff.elements, doc["elements"], strict=True)
        ],
    )


# --- models → OCPI JSON (what our receiver GETs answer) ------------------------------------------------


def _put(document: dict[str, Any], key: str, value: Any) -> None:
    if value not in (None, "", []):
        document[key] = value


def connector_to_ocpi(connector: models.Connector) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": connector.ocpi_id,
        "standard": connector.standard,
        "format": connector.format,
        "power_type": connector.power_type,
        "max_voltage": connector.max_voltage,
        "max_amperage": connector.max_amperage,
    }
    _put(doc, "max_electric_power", connector.max_electric_power)
    _put(doc, "tariff_ids", connector.tariff_ids)
    _put(doc, "terms_and_conditions", connector.terms_and_conditions)
    return {**doc, **connector.extra, "last_updated": format_datetime(connector.last_updated)}


def evse_to_ocpi(evse: models.Evse, connectors: list[models.Connector]) -> dict[str, Any]:
    doc: dict[str, Any] = {"uid": evse.uid, "status": evse.status}
    _put(doc, "evse_id", evse.evse_id)
    _put(doc, "capabilities", evse.capabilities)
    _put(doc, "floor_level", evse.floor_level)
    _put(doc, "physical_reference", evse.physical_reference)
    _put(doc, "parking_restrictions", evse.parking_restrictions)
    doc["connectors"] = [connector_to_ocpi(c) for c in connectors]
    last_updated = max([evse.last_updated, *(c.last_updated for c in connectors)])
    return {**doc, **evse.extra, "last_updated": format_datetime(last_updated)}


def location_to_ocpi(
    location: models.Location, evses: list[tuple[models.Evse, list[models.Connector]]]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": location.ocpi_id,
        "publish": location.publish,
        "address": location.address,
        "city": location.city,
        "country": location.country,
        "time_zone": location.time_zone,
    }
    _put(doc, "name", location.name)
    _put(doc, "postal_code", location.postal_code)
    _put(doc, "state", location.state)
    _put(doc, "parking_type", location.parking_type)
    _put(doc, "facilities", location.facilities)
    _put(doc, "opening_times", location.opening_times)
    evse_docs = [evse_to_ocpi(evse, connectors) for evse, connectors in evses]
    doc["evses"] = evse_docs
    # A Location's last_updated covers its children (spec): an EVSE PATCH does not rewrite the location.
    stamps = [
        location.last_updated,
        *(evse.last_updated for evse, _ in evses),
        *(c.last_updated for _, connectors in evses for c in connectors),
    ]
    return {**doc, **location.extra, "last_updated": format_datetime(max(stamps))}


def tariff_to_ocpi(
    tariff: models.Tariff, elements: list[tuple[models.TariffElement, list[models.PriceComponent]]]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "id": tariff.ocpi_id,
        "currency": tariff.currency,
    }
    _put(doc, "type", tariff.type)
    _put(doc, "tariff_alt_text", tariff.alt_text)
    _put(doc, "tariff_alt_url", tariff.alt_url)
    for bound in ("min", "max"):
        excl = getattr(tariff, f"{bound}_price_excl_vat")
        incl = getattr(tariff, f"{bound}_price_incl_vat")
        if excl is not None:
            doc[f"{bound}_price"] = {"excl_vat": excl} | ({"incl_vat": incl} if incl is not None else {})
    element_docs = []
    for element, components in elements:
        element_doc: dict[str, Any] = {
            "price_components": [
                {"type": c.type, "price": c.price, "step_size": c.step_size}
                | ({"vat": c.vat} if c.vat is not None else {})
                for c in components
            ]
        }
        if element.restrictions:
            element_doc["restrictions"] = element.restrictions
        element_docs.append(element_doc)
    doc["elements"] = element_docs
    if tariff.start_date_time:
        doc["start_date_time"] = format_datetime(tariff.start_date_time)
    if tariff.end_date_time:
        doc["end_date_time"] = format_datetime(tariff.end_date_time)
    _put(doc, "energy_mix", tariff.energy_mix)
    return {**doc, **tariff.extra, "last_updated": format_datetime(tariff.last_updated)}


# --- PATCH bodies → column changes --------------------------------------------------------------------

_IMMUTABLE = ("country_code", "party_id", "id", "uid", "last_updated")


def _patch_changes(patch: PatchModel, columns: tuple[str, ...]) -> dict[str, Any]:
    """What a PATCH sets, in the services' terms: column values, the rest for `extra`."""
    doc = patch.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    changes = {k: v for k, v in doc.items() if k not in _IMMUTABLE and k not in ("evses", "connectors")}
    if "coordinates" in changes:
        changes["latitude"] = _coordinate(changes["coordinates"], "latitude")
        changes["longitude"] = _coordinate(changes["coordinates"], "longitude")
    if "operator" in changes:
        changes["operator_name"] = changes["operator"].get("name", "")
    if "tariff_alt_url" in changes:
        changes["alt_url"] = changes.pop("tariff_alt_url")
    return {k: v for k, v in changes.items() if k in columns or k not in _ALL_COLUMNS}


_ALL_COLUMNS = frozenset(_LOCATION_COLUMNS + _EVSE_COLUMNS + _CONNECTOR_COLUMNS)


def location_patch_data(patch: LocationPatch) -> tuple[dict[str, Any], list[EvseData] | None]:
    evses = [evse_data(e) for e in patch.evses] if patch.evses else None
    return _patch_changes(patch, _LOCATION_COLUMNS), evses


def evse_patch_data(patch: EVSEPatch) -> tuple[dict[str, Any], list[ConnectorData] | None]:
    connectors = [connector_data(c) for c in patch.connectors] if patch.connectors else None
    return _patch_changes(patch, _EVSE_COLUMNS), connectors


def connector_patch_data(patch: ConnectorPatch) -> dict[str, Any]:
    return _patch_changes(patch, _CONNECTOR_COLUMNS)


# --- our tokens → OCPI JSON (Tokens Sender GET, pushes to CPOs, commands) -----------------------------


def token_to_ocpi(token: DriverToken) -> dict[str, Any]:
    """One of our tokens as an OCPI Token, under our own country_code/party_id."""
    doc: dict[str, Any] = {
        "country_code": settings.OCPI_COUNTRY_CODE,
        "party_id": settings.OCPI_PARTY_ID,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
        "issuer": token.issuer,
        "valid": token.valid,
        "whitelist": token.whitelist,
    }
    _put(doc, "visual_number", token.visual_number)
    _put(doc, "group_id", token.group_id)
    _put(doc, "language", token.language)
    _put(doc, "default_profile_type", token.default_profile_type)
    if token.energy_contract_supplier:
        doc["energy_contract"] = {"supplier_name": token.energy_contract_supplier}
        _put(doc["energy_contract"], "contract_id", token.energy_contract_id)
    doc["last_updated"] = format_datetime(token.last_updated)
    return doc


# --- sessions and CDRs ----------------------------------------------------------------------------------

# Session columns; `cdr_token`, `total_cost` and `meter_id` stay in `extra` as sent (like a location's
# coordinates): the token and cost columns derived from them are for queries.
_SESSION_COLUMNS = (
    "country_code",
    "party_id",
    "id",
    "start_date_time",
    "end_date_time",
    "kwh",
    "auth_method",
    "authorization_reference",
    "location_id",
    "evse_uid",
    "connector_id",
    "currency",
    "charging_periods",
    "status",
    "last_updated",
)
_CDR_PRICES = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def _label(value: Any) -> str:
    """An enum value for its column; an unknown value as sent (the wire model bounds it to the column)."""
    return str(value)


def _price_columns(prefix: str, price: Price | None) -> dict[str, Decimal | None]:
    return {
        f"{prefix}_excl_vat": price.excl_vat if price else None,
        f"{prefix}_incl_vat": price.incl_vat if price else None,
    }


def _token_columns(token: CdrToken) -> dict[str, str]:
    return {"token_uid": token.uid, "token_type": _label(token.type), "contract_id": token.contract_id}


def _token_party(token: CdrToken) -> tuple[str, str]:
    return token.country_code.upper(), token.party_id.upper()


def as_json(value: Any) -> Any:
    """Parsed partner JSON (numbers as `Decimal`, see `types.loads`) as plain JSON types for a JSONField."""
    if isinstance(value, Decimal):
        return decimal_to_json_number(value)
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value


def session_data(session: Session) -> SessionData:
    doc = session.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return SessionData(
        country_code=session.country_code.upper(),
        party_id=session.party_id.upper(),
        ocpi_id=session.id,
        last_updated=session.last_updated,
        content_hash=content_hash(doc),
        token_party=_token_party(session.cdr_token),
        fields={
            "status": _label(session.status),
            "start_date_time": session.start_date_time,
            "end_date_time": session.end_date_time,
            "kwh": session.kwh,
            "auth_method": _label(session.auth_method),
            "authorization_reference": session.authorization_reference or "",
            "ocpi_location_id": session.location_id,
            "evse_uid": session.evse_uid,
            "connector_id": session.connector_id,
            "currency": session.currency,
            **_price_columns("total_cost", session.total_cost),
            **_token_columns(session.cdr_token),
            "charging_periods": doc.get("charging_periods", []),
            "last_updated": session.last_updated,
            "extra": _rest(doc, _SESSION_COLUMNS),
        },
    )


def session_patch_data(patch: SessionPatch) -> SessionChanges:
    doc = patch.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    fields: dict[str, Any] = {}
    for name in ("start_date_time", "end_date_time", "kwh", "evse_uid", "connector_id", "currency"):
        if name in doc:
            fields[name] = getattr(patch, name)
    if "location_id" in doc:
        fields["ocpi_location_id"] = patch.location_id
    if "authorization_reference" in doc:
        fields["authorization_reference"] = patch.authorization_reference
    for name in ("status", "auth_method"):
        if name in doc:
            fields[name] = _label(getattr(patch, name))
    if patch.total_cost is not None:
        fields.update(_price_columns("total_cost", patch.total_cost))
    if patch.cdr_token is not None:
        fields.update(_token_columns(patch.cdr_token))
    return SessionChanges(
        fields=fields,
        extra=_rest(doc, _SESSION_COLUMNS),
        charging_periods=doc.get("charging_periods", []),
        token_party=_token_party(patch.cdr_token) if patch.cdr_token is not None else None,
    )


def session_to_ocpi(session: models.ChargingSession) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "country_code": session.country_code,
        "party_id": session.party_id,
        "id": session.ocpi_id,
        "start_date_time": format_datetime(session.start_date_time),
        "kwh": session.kwh,
        "auth_method": session.auth_method,
        "location_id": session.ocpi_location_id,
        "evse_uid": session.evse_uid,
        "connector_id": session.connector_id,
        "currency": session.currency,
        "status": session.status,
    }
    if session.end_date_time:
        doc["end_date_time"] = format_datetime(session.end_date_time)
    _put(doc, "authorization_reference", session.authorization_reference)
    _put(doc, "charging_periods", session.charging_periods)
    return {**doc, **session.extra, "last_updated": format_datetime(session.last_updated)}


def cdr_data(cdr: CDR, raw: dict[str, Any] | None = None) -> CdrData:
    """`raw` is the object as parsed from the wire; without it, the model's own dump stands in."""
    doc = cdr.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    fields: dict[str, Any] = {
        "start_date_time": cdr.start_date_time,
        "end_date_time": cdr.end_date_time,
        "ocpi_session_id": cdr.session_id or "",
        **_token_columns(cdr.cdr_token),
        "auth_method": _label(cdr.auth_method),
        "authorization_reference": cdr.authorization_reference or "",
        "cdr_location": doc["cdr_location"],
        "currency": cdr.currency,
        **_price_columns("total_cost", cdr.total_cost),
        "total_energy": cdr.total_energy,
        "total_time": cdr.total_time,
        "total_parking_time": cdr.total_parking_time,
        "tariffs": doc.get("tariffs", []),
        "charging_periods": doc["charging_periods"],
        "credit": bool(cdr.credit),
        "credit_reference_id": cdr.credit_reference_id or "",
        "remark": cdr.remark or "",
        "last_updated": cdr.last_updated,
    }
    for name in _CDR_PRICES:
        fields.update(_price_columns(name, getattr(cdr, name)))
    return CdrData(
        country_code=cdr.country_code.upper(),
        party_id=cdr.party_id.upper(),
        ocpi_id=cdr.id,
        last_updated=cdr.last_updated,
        # Of the normalised object: a resend with other number or date spellings is the same CDR.
        content_hash=content_hash(doc),
        token_party=_token_party(cdr.cdr_token),
        fields=fields,
        raw=as_json(raw) if raw is not None else doc,
    )


def cdr_to_ocpi(cdr: models.Cdr) -> dict[str, Any]:
    """A stored CDR is served exactly as it was received."""
    return dict(cdr.raw)


# --- hub client info -----------------------------------------------------------------------------------


def client_info_data(info: ClientInfo) -> HubClientData:
    return HubClientData(
        country_code=info.country_code.upper(),
        party_id=info.party_id.upper(),
        role=_label(info.role),
        status=_label(info.status),
        last_updated=info.last_updated,
    )


def client_info_to_ocpi(role: models.PartnerRole) -> dict[str, Any]:
    return {
        "party_id": role.party_id,
        "country_code": role.country_code,
        "role": role.role,
        "status": role.connection_status,
        "last_updated": format_datetime(role.status_updated or role.partner.registered_at or role.partner.created_at),
    }
