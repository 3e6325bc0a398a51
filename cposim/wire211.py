"""OCPI 2.1.1 on the wire: the simulator's 2.2.1-shaped objects mapped to 2.1.1 and back.

Written from the 2.1.1 specification and its examples (spec facts, section 5):
- transport: `Authorization: Token <raw token>`, no request/correlation ids, no routing headers;
- versions/credentials: endpoints without `role`, a flat Credentials object without `roles`;
- Location with `type` and no country_code/party_id/publish; connector `voltage`/`amperage`/`tariff_id`;
- Tariff without type/min_price/max_price, price components without `vat`;
- Session `start_datetime`/`end_datetime`, CDR `stop_date_time`; both carry the token's `auth_id`, a
  Location object holding only the EVSE and connector used, and `total_cost` as a number excl. VAT;
- Token `auth_id` (2.2.1 `contract_id`), no `?type=` on the receiver URL;
- commands without CANCEL_RESERVATION, an int `reservation_id`, and `CommandResponse {result}` both as
  the answer and as what is POSTed to `response_url`.
"""

from __future__ import annotations

from typing import Any

from cposim import protocol
from cposim.wire import Wire

# 2.2.1 ParkingType values that are 2.1.1 LocationTypes too; the others (ALONG_MOTORWAY, ...) become OTHER.
LOCATION_TYPES = ("ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT")
CAPABILITIES = (
    "CHARGING_PROFILE_CAPABLE",
    "CREDIT_CARD_PAYABLE",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "UNLOCK_CAPABLE",
)
FACILITIES = (
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAIN_STATION",
    "AIRPORT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
)
# 2.2.1 Location fields 2.1.1 does not have (`parking_type` becomes `type`).
LOCATION_DROPPED = ("country_code", "party_id", "publish", "publish_allowed_to", "parking_type", "parking_places")
TARIFF_FIELDS = ("id", "currency", "tariff_alt_text", "tariff_alt_url", "elements", "energy_mix", "last_updated")
RESTRICTIONS_DROPPED = ("min_current", "max_current", "reservation")
# CommandResponseType; 2.1.1 has no CommandResultType, so the charger's finer outcomes (EVSE_OCCUPIED, FAILED, ...)
# all reach the EMSP as REJECTED.
COMMAND_RESULTS = ("ACCEPTED", "REJECTED", "NOT_SUPPORTED", "TIMEOUT", "UNKNOWN_SESSION")
# AuthMethod is only AUTH_REQUEST or WHITELIST; a session started by the EMSP's START_SESSION was authorized by
# the EMSP, which is what AUTH_REQUEST says.
AUTH_METHODS = {"COMMAND": "AUTH_REQUEST"}


class Wire211(Wire):
    version = "2.1.1"
    base64_token = False
    request_ids = False
    routing_headers = False
    command_types = ("START_SESSION", "STOP_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR")
    token_required = ("uid", "type", "auth_id", "issuer", "valid", "whitelist", "last_updated")
    token_patch_needs_last_updated = False
    sessions_need_date_from = False
    charging_preferences = False
    # 2004 does not exist in 2.1.1.
    unknown_token = protocol.CLIENT_ERROR

    # versions and credentials ---------------------------------------------------------------

    def endpoint(self, identifier: str, role: str, url: str) -> dict[str, str]:
        return {"identifier": identifier, "url": url}

    def credentials(
        self, token: str, url: str, roles: list[dict[str, Any]], hub_party_id: str | None = None
    ) -> dict[str, Any]:
        role = roles[0]
        return {
            "token": token,
            "url": url,
            "business_details": role["business_details"],
            "party_id": role["party_id"],
            "country_code": role["country_code"],
        }

    credentials_need = "country_code and party_id"

    def peer_roles(self, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        if not isinstance(body.get("country_code"), str) or not isinstance(body.get("party_id"), str):
            return None
        details = body.get("business_details")
        return [
            {
                "role": "EMSP",
                "country_code": body["country_code"],
                "party_id": body["party_id"],
                "business_details": details if isinstance(details, dict) else {},
            }
        ]

    # locations ------------------------------------------------------------------------------

    def location(self, location: dict[str, Any]) -> dict[str, Any]:
        parking = location.get("parking_type")
        out: dict[str, Any] = {
            "id": location["id"],
            "type": parking if parking in LOCATION_TYPES else ("OTHER" if parking else "UNKNOWN"),
        }
        for key, value in location.items():
            if key in LOCATION_DROPPED or key in out:
                continue
            if key == "evses":
                value = [self.evse(evse) for evse in value]
            elif key == "facilities":
                value = [facility for facility in value if facility in FACILITIES]
            elif key == "opening_times" and value.get("regular_hours"):
                # Either regular_hours or twentyfourseven, not both.
                value = {k: v for k, v in value.items() if k != "twentyfourseven"}
            out[key] = value
        return out

    def evse(self, evse: dict[str, Any]) -> dict[str, Any]:
        out = dict(evse)
        if "capabilities" in out:
            out["capabilities"] = [c for c in out["capabilities"] if c in CAPABILITIES]
        if "connectors" in out:
            out["connectors"] = [self.connector(connector) for connector in out["connectors"]]
        return out

    def connector(self, connector: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in connector.items():
            if key == "max_voltage":
                out["voltage"] = value
            elif key == "max_amperage":
                out["amperage"] = value
            elif key == "tariff_ids":
                if value:
                    out["tariff_id"] = value[0]
            elif key != "max_electric_power":
                out[key] = value
        return out

    def _used_location(self, location_id: str, evse_uid: str, connector_id: str) -> dict[str, Any]:
        """The Location object of a session or CDR: only the EVSE and connector used."""
        location = self.locate(location_id)
        if location is None:
            return {"id": location_id}
        evses = []
        for evse in location["evses"]:
            if str(evse["uid"]).upper() == evse_uid.upper():
                connectors = [c for c in evse["connectors"] if str(c["id"]).upper() == connector_id.upper()]
                evses.append({**evse, "connectors": connectors})
        return self.location({**location, "evses": evses})

    # tariffs --------------------------------------------------------------------------------

    def tariff(self, tariff: dict[str, Any]) -> dict[str, Any]:
        out = {key: tariff[key] for key in TARIFF_FIELDS if key in tariff}
        out["elements"] = [_element(element) for element in tariff.get("elements", [])]
        return out

    def pricing_tariff(self, tariff: dict[str, Any]) -> dict[str, Any]:
        # A 2.1.1 tariff cannot say min_price/max_price, so a CPO speaking 2.1.1 does not apply them.
        return {key: value for key, value in tariff.items() if key not in ("min_price", "max_price")}

    # sessions and CDRs ----------------------------------------------------------------------

    def session(self, session: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": session["id"], "start_datetime": session["start_date_time"]}
        if session.get("end_date_time"):
            out["end_datetime"] = session["end_date_time"]
        out["kwh"] = session["kwh"]
        out["auth_id"] = session["cdr_token"]["contract_id"]
        out["auth_method"] = _auth_method(session["auth_method"])
        out["location"] = self._used_location(session["location_id"], session["evse_uid"], session["connector_id"])
        if session.get("meter_id"):
            out["meter_id"] = session["meter_id"]
        out["currency"] = session["currency"]
        out["charging_periods"] = _periods(session.get("charging_periods", []))
        if "total_cost" in session:
            out["total_cost"] = _excl_vat(session["total_cost"])
        out["status"] = session["status"]
        out["last_updated"] = session["last_updated"]
        return out

    def session_patch(self, patch: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in patch.items():
            if key == "end_date_time":
                out["end_datetime"] = value
            elif key == "total_cost":
                out[key] = _excl_vat(value)
            elif key == "charging_periods":
                out[key] = _periods(value)
            else:
                out[key] = value
        return out

    def cdr(self, cdr: dict[str, Any]) -> dict[str, Any]:
        where = cdr["cdr_location"]
        out: dict[str, Any] = {
            "id": cdr["id"],
            "start_date_time": cdr["start_date_time"],
            "stop_date_time": cdr["end_date_time"],
            "auth_id": cdr["cdr_token"]["contract_id"],
            "auth_method": _auth_method(cdr["auth_method"]),
            "location": self._used_location(where["id"], where["evse_uid"], where["connector_id"]),
            "currency": cdr["currency"],
        }
        if cdr.get("tariffs"):
            out["tariffs"] = [self.tariff(tariff) for tariff in cdr["tariffs"]]
        out["charging_periods"] = _periods(cdr["charging_periods"])
        out["total_cost"] = _excl_vat(cdr["total_cost"])
        for key in ("total_energy", "total_time", "total_parking_time", "remark", "last_updated"):
            if key in cdr:
                out[key] = cdr[key]
        return out

    # tokens ---------------------------------------------------------------------------------

    def token_type(self, query: dict[str, str]) -> str | None:
        return None

    def token_in(self, token: dict[str, Any], party: tuple[str, str] | None = None) -> dict[str, Any]:
        out = {("contract_id" if key == "auth_id" else key): value for key, value in token.items()}
        if party is not None:
            out["country_code"], out["party_id"] = party
        return out

    def token_out(self, token: dict[str, Any]) -> dict[str, Any]:
        return {
            ("auth_id" if key == "contract_id" else key): value
            for key, value in token.items()
            if key not in ("country_code", "party_id")
        }

    # commands -------------------------------------------------------------------------------

    def command_in(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        out = dict(body)
        if isinstance(out.get("token"), dict):
            out["token"] = self.token_in(out["token"])
        if command == "RESERVE_NOW":
            # An int in 2.1.1; anything else is left out, so the command is refused as missing it.
            number = out.pop("reservation_id", None)
            if isinstance(number, int) and not isinstance(number, bool):
                out["reservation_id"] = str(number)
        return out

    def command_response(self, result: str, timeout: int) -> dict[str, Any]:
        return {"result": result}

    def command_result(self, result: str, message: str | None) -> dict[str, Any]:
        return {"result": result if result in COMMAND_RESULTS else "REJECTED"}


def _auth_method(method: str) -> str:
    return AUTH_METHODS.get(method, method)


def _excl_vat(total: Any) -> Any:
    """2.1.1 costs are plain numbers excl. VAT; a 2.2.1 Price gives its excl_vat."""
    return total["excl_vat"] if isinstance(total, dict) else total


def _periods(periods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ChargingPeriods without `tariff_id` (2.2.1 only)."""
    return [{k: v for k, v in period.items() if k != "tariff_id"} for period in periods]


def _element(element: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "price_components": [
            {k: v for k, v in component.items() if k != "vat"} for component in element.get("price_components", [])
        ]
    }
    restrictions = {k: v for k, v in (element.get("restrictions") or {}).items() if k not in RESTRICTIONS_DROPPED}
    if restrictions:
        out["restrictions"] = restrictions
    return out
