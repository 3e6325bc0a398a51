"""Locations module: Location, EVSE, Connector and the classes they use.

Reference: OCPI 2.2.1 mod_locations.asciidoc (with the bugfix-branch errata: Location.address
string(255), Location.state string(45)).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeAlias

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from .tokens import TokenType
from .types import (
    URL,
    CiString2,
    CiString3,
    CiString4,
    CiString36,
    CiString48,
    DateTime,
    DisplayText,
    NonEmptyList,
    NonNegativeInt,
    Number,
    OcpiModel,
    OpenEnum,
    OptionalList,
    PatchModel,
    String3,
    String4,
    String10,
    String16,
    String45,
    String64,
    String100,
    String255,
    TimeOfDay,
)

# --------------------------------------------------------------------------------------------------
# Enums
# --------------------------------------------------------------------------------------------------


class Status(StrEnum):
    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class Capability(StrEnum):
    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorFormat(StrEnum):
    SOCKET = "SOCKET"
    CABLE = "CABLE"


class ConnectorType(StrEnum):
    # Values are case-sensitive; note the mixed case of the IEC 60309 ones.
    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16"
    IEC_60309_2_THREE_16 = "IEC_60309_2_three_16"
    IEC_60309_2_THREE_32 = "IEC_60309_2_three_32"
    IEC_60309_2_THREE_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class PowerType(StrEnum):
    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class ParkingType(StrEnum):
    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class ParkingRestriction(StrEnum):
    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"


class Facility(StrEnum):
    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class ImageCategory(StrEnum):
    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class EnergySourceCategory(StrEnum):
    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(StrEnum):
    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


# --------------------------------------------------------------------------------------------------
# Coordinates
# --------------------------------------------------------------------------------------------------
# The spec's patterns want 5-7 decimals (2.1.1: exactly 6) and string(10)/string(11). Real partners
# send anything from 1 to 10 decimals, so we accept that (and therefore do not apply the length
# limits, which 10 decimals would exceed), but still refuse values outside the globe. The values stay
# strings: they are identifiers as much as numbers, and passing them on unchanged avoids float noise.


def _in_range(limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if abs(Decimal(value)) > limit:
            raise PydanticCustomError("ocpi_coordinate", "Must be between -{limit} and {limit}", {"limit": limit})
        return value

    return AfterValidator(check)


Latitude: TypeAlias = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,2}\.[0-9]{1,10}$"), _in_range(90)]
Longitude: TypeAlias = Annotated[str, StringConstraints(pattern=r"^-?[0-9]{1,3}\.[0-9]{1,10}$"), _in_range(180)]


class GeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


# --------------------------------------------------------------------------------------------------
# Opening hours
# --------------------------------------------------------------------------------------------------


class RegularHours(OcpiModel):
    weekday: int = Field(ge=1, le=7)  # 1 = Monday ... 7 = Sunday
    period_begin: TimeOfDay
    period_end: TimeOfDay


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    """Opening times. The spec requires regular_hours when twentyfourseven is false; not enforced
    here (a partner getting that wrong should not cost us the whole Location)."""

    twentyfourseven: bool
    regular_hours: OptionalList[RegularHours] = Field(default_factory=list)
    exceptional_openings: OptionalList[ExceptionalPeriod] = Field(default_factory=list)
    exceptional_closings: OptionalList[ExceptionalPeriod] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Other classes
# --------------------------------------------------------------------------------------------------


class StatusSchedule(OcpiModel):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: OpenEnum[Status]


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: OpenEnum[ImageCategory]
    type: CiString4
    width: NonNegativeInt | None = None
    height: NonNegativeInt | None = None


class BusinessDetails(OcpiModel):
    name: String100
    website: URL | None = None
    logo: Image | None = None


class PublishTokenType(OcpiModel):
    """One entry of Location.publish_allowed_to. The spec's "at least one of uid/visual_number/
    group_id" and "uid needs type, visual_number needs issuer" rules are left to the consumer."""

    uid: CiString36 | None = None
    type: OpenEnum[TokenType] | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None


class EnergySource(OcpiModel):
    source: OpenEnum[EnergySourceCategory]
    percentage: Number


class EnvironmentalImpact(OcpiModel):
    category: OpenEnum[EnvironmentalImpactCategory]
    amount: Number  # g/kWh


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: OptionalList[EnergySource] = Field(default_factory=list)
    environ_impact: OptionalList[EnvironmentalImpact] = Field(default_factory=list)
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


# --------------------------------------------------------------------------------------------------
# Connector, EVSE, Location (full objects for PUT / GET, patch bodies for PATCH)
# --------------------------------------------------------------------------------------------------


def _unique(key: str) -> AfterValidator:
    """The EVSEs of a location, the connectors of an EVSE: each id once (they are stored unique per parent)."""

    def check(items: Sequence[Any] | None) -> Sequence[Any] | None:
        seen: set[str] = set()
        for item in items or ():
            value = getattr(item, key)
            if value in seen:
                raise PydanticCustomError("ocpi_duplicate", "{key} {value} appears twice", {"key": key, "value": value})
            seen.add(value)
        return items

    return AfterValidator(check)


class Connector(OcpiModel):
    id: CiString36
    standard: OpenEnum[ConnectorType]
    format: OpenEnum[ConnectorFormat]
    power_type: OpenEnum[PowerType]
    max_voltage: NonNegativeInt
    max_amperage: NonNegativeInt
    max_electric_power: NonNegativeInt | None = None
    tariff_ids: OptionalList[CiString36] = Field(default_factory=list)
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class ConnectorPatch(PatchModel):
    id: CiString36 | None = None
    standard: OpenEnum[ConnectorType] | None = None
    format: OpenEnum[ConnectorFormat] | None = None
    power_type: OpenEnum[PowerType] | None = None
    max_voltage: NonNegativeInt | None = None
    max_amperage: NonNegativeInt | None = None
    max_electric_power: NonNegativeInt | None = None
    tariff_ids: list[CiString36] | None = None
    terms_and_conditions: URL | None = None


class EVSE(OcpiModel):
    uid: CiString36
    evse_id: CiString48 | None = None
    status: OpenEnum[Status]
    status_schedule: OptionalList[StatusSchedule] = Field(default_factory=list)
    capabilities: OptionalList[OpenEnum[Capability]] = Field(default_factory=list)
    connectors: Annotated[NonEmptyList[Connector], _unique("id")]
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: OptionalList[DisplayText] = Field(default_factory=list)
    parking_restrictions: OptionalList[OpenEnum[ParkingRestriction]] = Field(default_factory=list)
    images: OptionalList[Image] = Field(default_factory=list)
    last_updated: DateTime


class EVSEPatch(PatchModel):
    uid: CiString36 | None = None
    evse_id: CiString48 | None = None
    status: OpenEnum[Status] | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[OpenEnum[Capability]] | None = None
    connectors: Annotated[list[Connector] | None, _unique("id")] = None
    floor_level: String4 | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String16 | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[OpenEnum[ParkingRestriction]] | None = None
    images: list[Image] | None = None


class Location(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    publish: bool
    publish_allowed_to: OptionalList[PublishTokenType] = Field(default_factory=list)
    name: String255 | None = None
    address: String255
    city: String45
    postal_code: String10 | None = None
    state: String45 | None = None
    country: String3
    coordinates: GeoLocation
    related_locations: OptionalList[AdditionalGeoLocation] = Field(default_factory=list)
    parking_type: OpenEnum[ParkingType] | None = None
    evses: Annotated[OptionalList[EVSE], _unique("uid")] = Field(default_factory=list)
    directions: OptionalList[DisplayText] = Field(default_factory=list)
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: OptionalList[OpenEnum[Facility]] = Field(default_factory=list)
    time_zone: String255
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None  # absent means true
    images: OptionalList[Image] = Field(default_factory=list)
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class LocationPatch(PatchModel):
    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    id: CiString36 | None = None
    publish: bool | None = None
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String255 | None = None
    address: String255 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    state: String45 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenEnum[ParkingType] | None = None
    evses: Annotated[list[EVSE] | None, _unique("uid")] = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenEnum[Facility]] | None = None
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
