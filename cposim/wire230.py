"""OCPI 2.3.0 at the simulator's edge (`ocpi_version="2.3.0"`).

Inside, objects stay in 2.2.1 shape; `Wire230` adds what 2.3.0 has on top, following the 2.3.0
specification and its examples (tag v2.3.0, ed2):

- Credentials: optional `hub_party_id` (a hub's own country code + party id); a hub lists the parties
  behind it in `roles` (Role has no HUB in 2.3.0, see cposim.hub).
- Price: `{before_taxes, taxes: [TaxAmount]}` instead of `{excl_vat, incl_vat}`; the simulator's only tax is
  VAT, one `TaxAmount {name: "VAT", percentage, amount}`. Session and CDR totals, CDR cost parts, tariff
  `min_price`/`max_price`.
- Tariffs: required `tax_included`: `NO` (prices excl. VAT, the simulator's own) unless configured `YES`, when
  every price component carrying a `vat` is sent with VAT added.
- Locations: `parking_places` (Parking objects) and EVSE `parking` references (`EVSEParking`) at parking
  lots and garages; and values of open enums 2.2.1 does not have: an `MCS` connector (megawatt charging) on the
  first EVSE of every third fast charging location, and the ConnectorCapability
  `ISO_15118_20_PLUG_AND_CHARGE` on the CCS connectors of every second one. An EMSP must take values it does
  not know (2.3.0 extensibility rules). The MCS connector exists on the wire only: a command naming it fails.
- Version details list `invoicereconciliation` as a Sender (cposim.invoicing).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cposim import protocol
from cposim.network import REGIONS
from cposim.wire import Locate, Wire

TAX_INCLUDED = ("YES", "NO", "N/A")
GARAGES = ("PARKING_GARAGE", "UNDERGROUND_GARAGE")
WITH_PARKING_PLACES = (*GARAGES, "PARKING_LOT")
# Price fields of a CDR besides total_cost.
CDR_PRICES = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
VAT_BY_COUNTRY = {region.country: Decimal(region.vat) for region in REGIONS.values()}
MCS = {
    "standard": "MCS",
    "format": "CABLE",
    "power_type": "DC",
    "max_voltage": 1250,
    "max_amperage": 3000,
    "max_electric_power": 3_750_000,
}


class Wire230(Wire):
    version = "2.3.0"
    sender_modules = (*Wire.sender_modules, "invoicereconciliation")

    def __init__(self, locate: Locate, *, tax_included: str = "NO") -> None:
        super().__init__(locate)
        if tax_included not in TAX_INCLUDED:
            raise ValueError(f"tax_included must be one of {', '.join(TAX_INCLUDED)}")
        self.tax_included = tax_included

    # versions and credentials ---------------------------------------------------------------

    def credentials(
        self, token: str, url: str, roles: list[dict[str, Any]], hub_party_id: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"token": token, "url": url, "roles": roles}
        if hub_party_id:
            body["hub_party_id"] = hub_party_id
        return body

    # locations ------------------------------------------------------------------------------

    def location(self, location: dict[str, Any]) -> dict[str, Any]:
        number = _number(location["id"])
        out = dict(location)
        out["evses"] = [self._evse(evse, location, number) for evse in location["evses"]]
        if location.get("parking_type") in WITH_PARKING_PLACES:
            out["parking_places"] = _parking_places(location)
        return out

    def evse(self, evse: dict[str, Any]) -> dict[str, Any]:
        location_id = str(evse["uid"]).rpartition("-")[0]
        location = self.locate(location_id)
        if location is None:
            return evse
        return self._evse(evse, location, _number(location_id))

    def _evse(self, evse: dict[str, Any], location: dict[str, Any], number: int) -> dict[str, Any]:
        out = dict(evse)
        connectors = [self.connector(c) for c in evse.get("connectors", [])]
        fast = any(c["power_type"] == "DC" for c in connectors)
        if fast and number % 2 == 0:
            connectors = [
                {**c, "capabilities": ["ISO_15118_20_PLUG_AND_CHARGE"]} if c["standard"] == "IEC_62196_T2_COMBO" else c
                for c in connectors
            ]
        if fast and number % 3 == 0 and evse["uid"] == location["evses"][0]["uid"]:
            connectors.append(
                {
                    "id": str(len(connectors) + 1),
                    **MCS,
                    "tariff_ids": list(connectors[0].get("tariff_ids", [])),
                    "last_updated": evse["last_updated"],
                }
            )
        out["connectors"] = connectors
        if location.get("parking_type") in WITH_PARKING_PLACES:
            place = int(str(evse["physical_reference"]))
            out["parking"] = [
                {"parking_id": str(place), "evse_position": "LEFT"},
                {"parking_id": str(place + 1), "evse_position": "RIGHT"},
            ]
        return out

    # tariffs --------------------------------------------------------------------------------

    def tariff(self, tariff: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in tariff.items():
            if key == "elements":
                value = [self._element(element) for element in value]
            elif key in ("min_price", "max_price"):
                value = price(value, _tariff_vat(tariff))
            elif key == "last_updated":
                out["tax_included"] = self.tax_included
            out[key] = value
        out.setdefault("tax_included", self.tax_included)
        return out

    def _element(self, element: dict[str, Any]) -> dict[str, Any]:
        if self.tax_included != "YES":
            return element
        components = []
        for component in element.get("price_components", []):
            vat = component.get("vat")
            if vat is not None:
                gross = protocol.money(Decimal(str(component["price"])) * (1 + Decimal(str(vat)) / 100))
                component = {**component, "price": gross}
            components.append(component)
        return {**element, "price_components": components}

    # sessions and CDRs ----------------------------------------------------------------------

    def session(self, session: dict[str, Any]) -> dict[str, Any]:
        if "total_cost" not in session:
            return session
        return {**session, "total_cost": price(session["total_cost"], self._vat_at(session["location_id"]))}

    def session_patch(self, patch: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        if "total_cost" not in patch:
            return patch
        return {**patch, "total_cost": price(patch["total_cost"], self._vat_at(session["location_id"]))}

    def cdr(self, cdr: dict[str, Any]) -> dict[str, Any]:
        vat = VAT_BY_COUNTRY.get(cdr["cdr_location"].get("country", ""))
        out = dict(cdr)
        for key in ("total_cost", *CDR_PRICES):
            if key in out:
                out[key] = price(out[key], vat)
        if out.get("tariffs"):
            out["tariffs"] = [self.tariff(tariff) for tariff in out["tariffs"]]
        return out

    def _vat_at(self, location_id: str) -> Decimal | None:
        location = self.locate(location_id)
        return VAT_BY_COUNTRY.get(location["country"]) if location else None


def price(value: Any, vat: Decimal | None) -> Any:
    """A 2.2.1 Price `{excl_vat, incl_vat}` as a 2.3.0 Price `{before_taxes, taxes}`: the VAT as one TaxAmount.

    Anything else (already 2.3.0, a bare number) passes unchanged. `vat` is the rate charged, when known."""
    if not isinstance(value, dict) or "excl_vat" not in value:
        return value
    before = Decimal(str(value["excl_vat"]))
    out: dict[str, Any] = {"before_taxes": value["excl_vat"]}
    if value.get("incl_vat") is not None:
        tax: dict[str, Any] = {"name": "VAT"}
        if vat is not None:
            tax["percentage"] = vat
        tax["amount"] = protocol.money(Decimal(str(value["incl_vat"])) - before)
        out["taxes"] = [tax]
    return out


def _number(location_id: str) -> int:
    digits = "".join(ch for ch in location_id[-6:] if ch.isdigit())
    return int(digits) if digits else 0


def _tariff_vat(tariff: dict[str, Any]) -> Decimal | None:
    for element in tariff.get("elements", []):
        for component in element.get("price_components", []):
            if component.get("vat") is not None:
                return Decimal(str(component["vat"]))
    return None


def _parking_places(location: dict[str, Any]) -> list[dict[str, Any]]:
    """One place either side of every EVSE, shared between neighbours (as in the spec's location example)."""
    garage = location.get("parking_type") in GARAGES
    places = []
    for number in range(1, len(location["evses"]) + 2):
        place: dict[str, Any] = {
            "id": str(number),
            "physical_reference": f"P{number}",
            "vehicle_types": ["PERSONAL_VEHICLE"],
            "reservation_required": False,
            "restricted_to_type": True,
        }
        if garage:
            place["roofed"] = True
        places.append(place)
    return places
