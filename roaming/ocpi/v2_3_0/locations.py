"""Locations module, 2.3.0: 2.2.1's objects plus parking places, EVSE parking links, accepted service providers,
a help phone number, connector capabilities, and the enum values 2.3.0 adds.

Reference: OCPI 2.3.0-ed2 mod_locations.asciidoc. Every enum here is open (2.3.0 "OpenEnum"): a value we do not
know is kept as sent (`OpenEnum`), never refused.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from ..v2_2_1 import locations as v221
from ..v2_2_1.locations import Image, _unique
from ..v2_2_1.types import CiString25, CiString36, NonEmptyList, Number, OcpiModel, OpenEnum, OptionalList, String255
from .types import String12, String50, extended

if TYPE_CHECKING:  # the same enums to the type checker; at runtime they carry the values 2.3.0 adds
    ConnectorType = v221.ConnectorType
    ParkingRestriction = v221.ParkingRestriction
else:
    ConnectorType = extended(v221.ConnectorType, "MCS", "SAE_J3400")
    ParkingRestriction = extended(v221.ParkingRestriction, "EMPLOYEES", "TAXIS", "TENANTS")


class ConnectorCapability(StrEnum):
    ISO_15118_2_PLUG_AND_CHARGE = "ISO_15118_2_PLUG_AND_CHARGE"
    ISO_15118_20_PLUG_AND_CHARGE = "ISO_15118_20_PLUG_AND_CHARGE"


class VehicleType(StrEnum):
    MOTORCYCLE = "MOTORCYCLE"
    PERSONAL_VEHICLE = "PERSONAL_VEHICLE"
    PERSONAL_VEHICLE_WITH_TRAILER = "PERSONAL_VEHICLE_WITH_TRAILER"
    VAN = "VAN"
    SEMI_TRACTOR = "SEMI_TRACTOR"
    RIGID = "RIGID"
    TRUCK_WITH_TRAILER = "TRUCK_WITH_TRAILER"
    BUS = "BUS"
    DISABLED = "DISABLED"


class ParkingDirection(StrEnum):
    PARALLEL = "PARALLEL"
    PERPENDICULAR = "PERPENDICULAR"
    ANGLE = "ANGLE"


class EVSEPosition(StrEnum):
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    CENTER = "CENTER"


class Parking(OcpiModel):
    """One parking place of a Location (`parking_places`); EVSEs refer to it by id (`EVSE.parking`)."""

    id: CiString36
    physical_reference: String12 | None = None
    vehicle_types: Annotated[list[OpenEnum[VehicleType]], Field(min_length=1)]
    max_vehicle_weight: Number | None = None  # kg
    max_vehicle_height: Number | None = None  # cm
    max_vehicle_length: Number | None = None  # cm
    max_vehicle_width: Number | None = None  # cm
    parking_space_length: Number | None = None  # cm
    parking_space_width: Number | None = None  # cm
    dangerous_goods_allowed: bool | None = None
    direction: OpenEnum[ParkingDirection] | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: Number | None = None  # minutes
    roofed: bool | None = None
    images: OptionalList[Image] = Field(default_factory=list)
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: OptionalList[CiString36] = Field(default_factory=list)
    apds_reference: String255 | None = None


class EVSEParking(OcpiModel):
    parking_id: CiString36
    evse_position: OpenEnum[EVSEPosition] | None = None


class Connector(v221.Connector):
    standard: OpenEnum[ConnectorType]
    capabilities: OptionalList[OpenEnum[ConnectorCapability]] = Field(default_factory=list)


class ConnectorPatch(v221.ConnectorPatch):
    standard: OpenEnum[ConnectorType] | None = None
    capabilities: list[OpenEnum[ConnectorCapability]] | None = None


class EVSE(v221.EVSE):
    connectors: Annotated[NonEmptyList[Connector], _unique("id")]  # type: ignore[assignment]
    parking_restrictions: OptionalList[OpenEnum[ParkingRestriction]] = Field(default_factory=list)
    parking: OptionalList[EVSEParking] = Field(default_factory=list)
    accepted_service_providers: OptionalList[String50] = Field(default_factory=list)  # eMSP names


class EVSEPatch(v221.EVSEPatch):
    connectors: Annotated[list[Connector] | None, _unique("id")] = None  # type: ignore[assignment]
    parking_restrictions: list[OpenEnum[ParkingRestriction]] | None = None
    parking: list[EVSEParking] | None = None
    accepted_service_providers: list[String50] | None = None


class Location(v221.Location):
    evses: Annotated[OptionalList[EVSE], _unique("uid")] = Field(default_factory=list)  # type: ignore[assignment]
    parking_places: Annotated[OptionalList[Parking], _unique("id")] = Field(default_factory=list)
    help_phone: CiString25 | None = None


class LocationPatch(v221.LocationPatch):
    evses: Annotated[list[EVSE] | None, _unique("uid")] = None  # type: ignore[assignment]
    parking_places: Annotated[list[Parking] | None, _unique("id")] = None
    help_phone: CiString25 | None = None
