"""The simulated charging network: locations, EVSEs and connectors generated from (seed, index).

A network of 20,000 locations has ~100,000 EVSEs and ~200,000 connectors. Holding those as dicts
would cost gigabytes, so every location is rebuilt on demand from its own seeded RNG and only what
changed at runtime (EVSE status, `last_updated` bumps, vanished locations) lives in `Overlay`.
Location *i* does not depend on the network size, so a small network is a prefix of a large one.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cposim import protocol
from cposim.state import Store

DAY = 86_400
DEFAULT_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class City:
    name: str
    lat: float
    lon: float
    postal_low: int
    postal_high: int
    language: str


@dataclass(frozen=True)
class Region:
    """A country the network operates in; `country` is ISO 3166-1 alpha-3 as OCPI wants it."""

    key: str
    country: str
    time_zone: str
    vat: str
    cities: tuple[City, ...]


REGIONS: dict[str, Region] = {
    "NL": Region(
        "NL",
        "NLD",
        "Europe/Amsterdam",
        "21",
        (
            City("Amsterdam", 52.3702, 4.8952, 1011, 1109, "nl"),
            City("Rotterdam", 51.9244, 4.4777, 3011, 3089, "nl"),
            City("Utrecht", 52.0907, 5.1214, 3511, 3585, "nl"),
            City("Den Haag", 52.0705, 4.3007, 2491, 2597, "nl"),
            City("Eindhoven", 51.4416, 5.4697, 5611, 5658, "nl"),
            City("Groningen", 53.2194, 6.5665, 9711, 9747, "nl"),
        ),
    ),
    "BE": Region(
        "BE",
        "BEL",
        "Europe/Brussels",
        "21",
        (
            City("Brussel", 50.8503, 4.3517, 1000, 1210, "fr"),
            City("Antwerpen", 51.2194, 4.4025, 2000, 2660, "nl"),
            City("Gent", 51.0543, 3.7174, 9000, 9052, "nl"),
            City("Leuven", 50.8798, 4.7005, 3000, 3012, "nl"),
            City("Liège", 50.6326, 5.5797, 4000, 4032, "fr"),
        ),
    ),
    "DE": Region(
        "DE",
        "DEU",
        "Europe/Berlin",
        "19",
        (
            City("Berlin", 52.5200, 13.4050, 10115, 14199, "de"),
            City("Hamburg", 53.5511, 9.9937, 20095, 22769, "de"),
            City("München", 48.1351, 11.5820, 80331, 81929, "de"),
            City("Köln", 50.9375, 6.9603, 50667, 51149, "de"),
            City("Düsseldorf", 51.2277, 6.7735, 40210, 40629, "de"),
            City("Aachen", 50.7753, 6.0839, 52062, 52080, "de"),
        ),
    ),
}

STREETS = {
    "nl": (
        "Stationsweg",
        "Kerkstraat",
        "Dorpsstraat",
        "Molenweg",
        "Hoofdstraat",
        "Julianalaan",
        "Beatrixlaan",
        "Marktplein",
        "Industrieweg",
        "Parallelweg",
        "Schoolstraat",
        "Nieuwstraat",
        "Kastanjelaan",
        "Spoorlaan",
        "Havenkade",
        "Singel",
    ),
    "fr": (
        "Rue de la Station",
        "Rue Haute",
        "Avenue Louise",
        "Rue de l'Église",
        "Place du Marché",
        "Rue du Moulin",
        "Boulevard d'Avroy",
        "Rue Neuve",
        "Chaussée de Wavre",
        "Rue des Écoles",
    ),
    "de": (
        "Hauptstraße",
        "Bahnhofstraße",
        "Schulstraße",
        "Gartenstraße",
        "Dorfstraße",
        "Bergstraße",
        "Lindenstraße",
        "Kirchstraße",
        "Industriestraße",
        "Marktplatz",
        "Ringstraße",
        "Parkstraße",
        "Goethestraße",
        "Am Hafen",
    ),
}
GARAGE_WORD = {"nl": "Parkeergarage", "fr": "Parking", "de": "Parkhaus"}
FAST_WORD = {"nl": "Snellaadplein", "fr": "Station de recharge", "de": "Schnellladepark"}
POSTAL_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"

# (standard, format, power_type, max_voltage, max_amperage, max_electric_power)
ConnectorSpec = tuple[str, str, str, int, int, int]
T2_SOCKET_11: ConnectorSpec = ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 16, 11_000)
T2_SOCKET_22: ConnectorSpec = ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22_000)
T2_CABLE_22: ConnectorSpec = ("IEC_62196_T2", "CABLE", "AC_3_PHASE", 230, 32, 22_000)
T2_CABLE_43: ConnectorSpec = ("IEC_62196_T2", "CABLE", "AC_3_PHASE", 230, 63, 43_000)
SCHUKO: ConnectorSpec = ("DOMESTIC_F", "SOCKET", "AC_1_PHASE", 230, 16, 3_680)
CCS_50: ConnectorSpec = ("IEC_62196_T2_COMBO", "CABLE", "DC", 500, 125, 50_000)
CCS_150: ConnectorSpec = ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 300, 150_000)
CCS_350: ConnectorSpec = ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 500, 350_000)
CHADEMO_50: ConnectorSpec = ("CHADEMO", "CABLE", "DC", 500, 125, 50_000)


@dataclass(frozen=True)
class EvseTemplate:
    """A kind of charge point: its connectors and which tariff class prices it."""

    weight: int
    connectors: tuple[ConnectorSpec, ...]
    tariff_class: str


# Weights are tuned so a network averages ~2 connectors per EVSE (the 100k/200k target).
AC_TEMPLATES = (
    EvseTemplate(10, (T2_SOCKET_11,), "AC"),
    EvseTemplate(5, (T2_SOCKET_22,), "AC"),
    EvseTemplate(40, (T2_SOCKET_11, SCHUKO), "AC"),
    EvseTemplate(45, (T2_CABLE_22, T2_SOCKET_22), "AC"),
)
DC_TEMPLATES = (
    EvseTemplate(60, (CCS_50, CHADEMO_50, T2_CABLE_43), "DC"),
    EvseTemplate(30, (CCS_150, CHADEMO_50), "HPC"),
    EvseTemplate(10, (CCS_350,), "HPC"),
)
AC_PARKING = (("ON_STREET", 55), ("PARKING_LOT", 20), ("PARKING_GARAGE", 15), ("UNDERGROUND_GARAGE", 10))
DC_PARKING = (("ALONG_MOTORWAY", 40), ("PARKING_LOT", 60))
AC_FACILITIES = ("SUPERMARKET", "CAFE", "RESTAURANT", "MALL", "BUS_STOP", "TRAIN_STATION", "PARKING_LOT", "SPORT")
DC_FACILITIES = ("FUEL_STATION", "RESTAURANT", "CAFE", "WIFI", "SUPERMARKET", "HOTEL")


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    total = sum(weight for _, weight in options)
    pick = rng.randrange(total)
    for value, weight in options:
        pick -= weight
        if pick < 0:
            return value
    return options[-1][0]


def _weighted_template(rng: random.Random, templates: tuple[EvseTemplate, ...]) -> EvseTemplate:
    total = sum(t.weight for t in templates)
    pick = rng.randrange(total)
    for template in templates:
        pick -= template.weight
        if pick < 0:
            return template
    return templates[-1]


class Network:
    """Deterministic generator for the CPO's locations (without runtime changes)."""

    def __init__(
        self,
        *,
        seed: int,
        size: int,
        country_code: str,
        party_id: str,
        regions: tuple[str, ...],
        evse_weights: tuple[int, ...],
        operator_name: str,
        epoch: datetime | None = None,
        location_id_prefix: str = "LOC",
    ) -> None:
        unknown = [key for key in regions if key not in REGIONS]
        if unknown or not regions:
            raise ValueError(f"unknown regions {unknown}; choose from {sorted(REGIONS)}")
        if not evse_weights or any(w < 0 for w in evse_weights) or sum(evse_weights) == 0:
            raise ValueError("evse_weights needs at least one positive weight")
        self.seed = seed
        self.size = size
        self.country_code = country_code
        self.party_id = party_id
        self.location_id_prefix = location_id_prefix
        self.regions = tuple(REGIONS[key] for key in regions)
        self.evse_weights = evse_weights
        self._evse_weight_total = sum(evse_weights)
        self.operator = {"name": operator_name}
        self.epoch = int((epoch or DEFAULT_EPOCH).timestamp())
        # Only the base last_updated of every location is precomputed: list filtering by date
        # must not have to build 20,000 locations.
        self.base_updated = [self._base_updated(index) for index in range(size)]

    # ids ---------------------------------------------------------------------------------

    def location_id(self, index: int) -> str:
        return f"{self.location_id_prefix}{index + 1:06d}"

    def index_of(self, location_id: str) -> int | None:
        prefix = self.location_id_prefix
        digits = location_id[len(prefix) :]
        if len(digits) != 6 or not location_id.upper().startswith(prefix.upper()) or not digits.isdigit():
            return None
        index = int(digits) - 1
        return index if 0 <= index < self.size else None

    # generation --------------------------------------------------------------------------

    def _rng(self, index: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + index)

    def _base_updated(self, index: int) -> int:
        return self.epoch + self._rng(index).randrange(365 * DAY)

    def region_of(self, index: int) -> Region:
        rng = self._rng(index)
        rng.randrange(365 * DAY)
        return self.regions[rng.randrange(len(self.regions))]

    def build(self, index: int) -> dict[str, Any]:
        """The location as generated, before runtime changes; same (seed, index) → same dict."""
        rng = self._rng(index)
        updated = self.epoch + rng.randrange(365 * DAY)
        region = self.regions[rng.randrange(len(self.regions))]
        city = region.cities[rng.randrange(len(region.cities))]
        fast = rng.random() < 0.2
        street = rng.choice(STREETS[city.language])
        number = rng.randrange(1, 240)
        location_id = self.location_id(index)
        parking_type = _weighted(rng, DC_PARKING if fast else AC_PARKING)
        if parking_type in ("PARKING_GARAGE", "UNDERGROUND_GARAGE"):
            name = f"{GARAGE_WORD[city.language]} {street}"
        elif fast:
            name = f"{FAST_WORD[city.language]} {city.name} {street}"
        else:
            name = f"{street} {number}, {city.name}"
        location: dict[str, Any] = {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "id": location_id,
            "publish": True,
            "name": name,
            "address": f"{street} {number}",
            "city": city.name,
            "postal_code": self._postal_code(rng, region, city),
            "country": region.country,
            "coordinates": {
                "latitude": f"{city.lat + rng.uniform(-0.06, 0.06):.6f}",
                "longitude": f"{city.lon + rng.uniform(-0.09, 0.09):.6f}",
            },
            "parking_type": parking_type,
        }
        evse_count = self._evse_count(rng)
        templates = DC_TEMPLATES if fast else AC_TEMPLATES
        ac_tariff = self._ac_tariff(rng, region)
        reservable = rng.random() < 0.3
        evses = []
        for number_on_site in range(1, evse_count + 1):
            template = _weighted_template(rng, templates)
            evse_updated = updated if number_on_site == 1 else updated - rng.randrange(30 * DAY)
            tariff_id = ac_tariff if template.tariff_class == "AC" else f"{region.key}-{template.tariff_class}"
            connectors = []
            for connector_number, spec in enumerate(template.connectors, start=1):
                standard, fmt, power_type, voltage, amperage, power = spec
                connectors.append(
                    {
                        "id": str(connector_number),
                        "standard": standard,
                        "format": fmt,
                        "power_type": power_type,
                        "max_voltage": voltage,
                        "max_amperage": amperage,
                        "max_electric_power": power,
                        "tariff_ids": [tariff_id],
                        "last_updated": evse_updated - rng.randrange(10 * DAY),
                    }
                )
            capabilities = ["REMOTE_START_STOP_CAPABLE", "RFID_READER"]
            if fast:
                capabilities += ["CONTACTLESS_CARD_SUPPORT", "CREDIT_CARD_PAYABLE"]
            else:
                # Smart charging over a long AC stay: the driver's preferences shape the charge.
                capabilities.append("CHARGING_PREFERENCES_CAPABLE")
                if any(spec[1] == "SOCKET" for spec in template.connectors):
                    capabilities.append("UNLOCK_CAPABLE")
            if reservable:
                capabilities.append("RESERVABLE")
            evse: dict[str, Any] = {
                "uid": f"{location_id}-{number_on_site}",
                "evse_id": f"{self.country_code}*{self.party_id}*E{index + 1:06d}*{number_on_site}",
                "status": "AVAILABLE",
                "capabilities": sorted(capabilities),
                "connectors": connectors,
                "physical_reference": str(number_on_site),
                "last_updated": evse_updated,
            }
            if parking_type in ("PARKING_GARAGE", "UNDERGROUND_GARAGE"):
                evse["floor_level"] = "-1" if parking_type == "UNDERGROUND_GARAGE" else "0"
            evses.append(evse)
        location["evses"] = evses
        location["operator"] = self.operator
        facilities = DC_FACILITIES if fast else AC_FACILITIES
        location["facilities"] = sorted(rng.sample(facilities, rng.randrange(0, 4)))
        location["time_zone"] = region.time_zone
        location["opening_times"] = self._opening_times(rng, parking_type)
        if parking_type in ("PARKING_GARAGE", "UNDERGROUND_GARAGE"):
            location["charging_when_closed"] = True
        if rng.random() < 0.4:
            location["energy_mix"] = {"is_green_energy": True}
        location["last_updated"] = updated
        return location

    def _evse_count(self, rng: random.Random) -> int:
        pick = rng.randrange(self._evse_weight_total)
        for count, weight in enumerate(self.evse_weights, start=1):
            pick -= weight
            if pick < 0:
                return count
        return len(self.evse_weights)

    @staticmethod
    def _ac_tariff(rng: random.Random, region: Region) -> str:
        roll = rng.random()
        if roll < 0.03:
            return f"{region.key}-FREE"
        if roll < 0.5:
            return f"{region.key}-AC"
        if roll < 0.8:
            return f"{region.key}-AC-IDLE"
        return f"{region.key}-AC-TIME"

    @staticmethod
    def _postal_code(rng: random.Random, region: Region, city: City) -> str:
        number = rng.randint(city.postal_low, city.postal_high)
        if region.key == "NL":
            return f"{number} {rng.choice(POSTAL_LETTERS)}{rng.choice(POSTAL_LETTERS)}"
        if region.key == "DE":
            return f"{number:05d}"
        return str(number)

    @staticmethod
    def _opening_times(rng: random.Random, parking_type: str) -> dict[str, Any]:
        garage = parking_type in ("PARKING_GARAGE", "UNDERGROUND_GARAGE")
        if rng.random() < (0.5 if garage else 0.9):
            return {"twentyfourseven": True}
        hours = [{"weekday": day, "period_begin": "07:00", "period_end": "23:00"} for day in range(1, 7)]
        hours.append({"weekday": 7, "period_begin": "09:00", "period_end": "21:00"})
        return {"twentyfourseven": False, "regular_hours": hours}


class Overlay:
    """Runtime changes on top of the generated network, persisted through the `Store`.

    Every EVSE change also bumps its location, so list filtering by `last_updated` only needs
    `Network.base_updated` and `location_updated` without building any location.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        # (location index, evse uid) -> {"status": ..., "last_updated": epoch}
        self.evses: dict[tuple[int, str], dict[str, Any]] = {}
        self.location_updated: dict[int, int] = {}
        self.vanished: set[int] = set()
        self.version = 0
        for key, body in store.items("evse"):
            index, _, uid = key.partition("/")
            self.evses[(int(index), uid)] = body
        for key, body in store.items("location"):
            if body.get("last_updated"):
                self.location_updated[int(key)] = int(body["last_updated"])
            if body.get("vanished"):
                self.vanished.add(int(key))

    def set_evse(self, index: int, uid: str, *, status: str, updated: int) -> None:
        with self._lock:
            body = {"status": status, "last_updated": updated}
            self.evses[(index, uid)] = body
            self.store.put("evse", f"{index}/{uid}", body)
            self._touch(index, updated)

    def touch(self, indexes: list[int], updated: int) -> None:
        with self._lock:
            for index in indexes:
                self._touch(index, updated)

    def _touch(self, index: int, updated: int) -> None:
        self.location_updated[index] = max(updated, self.location_updated.get(index, 0))
        self._save_location(index)

    def vanish(self, indexes: list[int]) -> None:
        with self._lock:
            for index in indexes:
                self.vanished.add(index)
                self._save_location(index)

    def _save_location(self, index: int) -> None:
        self.version += 1
        body = {"last_updated": self.location_updated.get(index), "vanished": index in self.vanished}
        self.store.put("location", str(index), body)

    def evse_status(self, index: int, uid: str) -> str | None:
        body = self.evses.get((index, uid))
        return None if body is None else str(body["status"])


def render_location(network: Network, overlay: Overlay, index: int) -> dict[str, Any]:
    """The location as the CPO publishes it now: generated data + overlay, timestamps as DateTime."""
    location = network.build(index)
    fmt = protocol.format_epoch
    latest = max(location["last_updated"], overlay.location_updated.get(index, 0))
    for evse in location["evses"]:
        change = overlay.evses.get((index, evse["uid"]))
        if change is not None:
            evse["status"] = change["status"]
            evse["last_updated"] = max(evse["last_updated"], change["last_updated"])
            latest = max(latest, evse["last_updated"])
        evse["last_updated"] = fmt(evse["last_updated"])
        for connector in evse["connectors"]:
            connector["last_updated"] = fmt(connector["last_updated"])
    location["last_updated"] = fmt(latest)
    return location


def find_evse(location: dict[str, Any], evse_uid: str) -> dict[str, Any] | None:
    for evse in location["evses"]:
        if str(evse["uid"]).upper() == evse_uid.upper():
            return dict(evse)
    return None


def find_connector(evse: dict[str, Any], connector_id: str) -> dict[str, Any] | None:
    for connector in evse["connectors"]:
        if str(connector["id"]).upper() == connector_id.upper():
            return dict(connector)
    return None
