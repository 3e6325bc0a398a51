"""Locations module, 2.1.1: no country_code/party_id/publish on a Location (the party is the one in the URL, or the
connection's CPO on a pull), a required `type` instead of `parking_type`, connectors with `voltage`/`amperage` and
one `tariff_id`, hours as `regular_hours` OR `twentyfourseven`, and EnvironmentalImpact `source` (2.2: `category`).

Reference: OCPI 2.1.1-d2 mod_locations.md. Location ids and EVSE uids are string(39) in 2.1.1 but 36 here: our
columns hold 36 (as in 2.2), and a longer id is refused with 2001 rather than cut. Enum values are read open (as
2.2.1 reads them): a 2.2 value from a partner half-way between versions is kept rather than refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from ..v2_2_1.locations import (
    AdditionalGeoLocation,
    BusinessDetails,
    Capability,
    ConnectorFormat,
    ConnectorType,
    EnergySource,
    EnvironmentalImpactCategory,
    ExceptionalPeriod,
    Facility,
    GeoLocation,
    Image,
    ParkingRestriction,
    PowerType,
    RegularHours,
    Status,
    StatusSchedule,
    _unique,
)
from ..v2_2_1.types import (
    URL,
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
    String3,
    String4,
    String10,
    String16,
    String45,
    String64,
    String255,
)
from .types import Patch211


class LocationType(StrEnum):
    ON_STREET = "ON_STREET"
    PARKING_GARAGE = "PARKING_GARAGE"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    OTHER = "OTHER"
    UNKNOWN = "UNKNOWN"


class Hours(OcpiModel):
    """`regular_hours` or `twentyfourseven` (2.2 makes the flag required)."""

    twentyfourseven: bool | None = None
    regular_hours: OptionalList[RegularHours] = Field(default_factory=list)
    exceptional_openings: OptionalList[ExceptionalPeriod] = Field(default_factory=list)
    exceptional_closings: OptionalList[ExceptionalPeriod] = Field(default_factory=list)


class EnvironmentalImpact(OcpiModel):
    source: OpenEnum[EnvironmentalImpactCategory]
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: OptionalList[EnergySource] = Field(default_factory=list)
    environ_impact: OptionalList[EnvironmentalImpact] = Field(default_factory=list)
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None


class Connector(OcpiModel):
    id: CiString36
    standard: OpenEnum[ConnectorType]
    format: OpenEnum[ConnectorFormat]
    power_type: OpenEnum[PowerType]
    voltage: NonNegativeInt
    amperage: NonNegativeInt
    tariff_id: CiString36 | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class ConnectorPatch(Patch211):
    id: CiString36 | None = None
    standard: OpenEnum[ConnectorType] | None = None
    format: OpenEnum[ConnectorFormat] | None = None
    power_type: OpenEnum[PowerType] | None = None
    voltage: NonNegativeInt | None = None
    amperage: NonNegativeInt | None = None
    tariff_id: CiString36 | None = None
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


class EVSEPatch(Patch211):
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
    id: CiString36
    type: OpenEnum[LocationType]
    name: String255 | None = None
    address: String255
    city: String45
    postal_code: String10 | None = None  # required by the spec; a partner leaving it out keeps its location
    country: String3
    coordinates: GeoLocation
    related_locations: OptionalList[AdditionalGeoLocation] = Field(default_factory=list)
    evses: Annotated[OptionalList[EVSE], _unique("uid")] = Field(default_factory=list)
    directions: OptionalList[DisplayText] = Field(default_factory=list)
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: OptionalList[OpenEnum[Facility]] = Field(default_factory=list)
    time_zone: String255 | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: OptionalList[Image] = Field(default_factory=list)
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class LocationPatch(Patch211):
    id: CiString36 | None = None
    type: OpenEnum[LocationType] | None = None
    name: String255 | None = None
    address: String255 | None = None
    city: String45 | None = None
    postal_code: String10 | None = None
    country: String3 | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
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
