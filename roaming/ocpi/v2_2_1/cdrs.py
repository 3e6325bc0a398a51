"""CDRs module: the final, immutable record of a charging session (corrections come as credit CDRs).

Reference: OCPI 2.2.1 mod_cdrs.asciidoc. `ChargingPeriod`, `CdrDimension`, `CdrToken` and
`AuthMethod` are defined here by the spec and reused by Sessions.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .locations import ConnectorFormat, ConnectorType, GeoLocation, PowerType
from .tariffs import Tariff
from .tokens import TokenType
from .types import (
    CiString2,
    CiString3,
    CiString32,
    CiString36,
    CiString39,
    CiString48,
    DateTime,
    NonEmptyList,
    NonNegativeInt,
    Number,
    OcpiModel,
    OpenEnum,
    OptionalList,
    Price,
    String3,
    String10,
    String45,
    String255,
    String512,
    String5000,
)


class AuthMethod(StrEnum):
    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(StrEnum):
    # CURRENT, ENERGY_EXPORT, ENERGY_IMPORT, POWER and STATE_OF_CHARGE appear in Sessions only.
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


class CdrToken(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: OpenEnum[TokenType]
    contract_id: CiString36


class CdrLocation(OcpiModel):
    """The Location as it was at session start.

    Deliberate deviation: the spec still lists address string(45) and state string(20) here, but the
    errata widened Location.address/state to 255/45 and CPOs copy those values into CDRs. Refusing a
    CDR (money) over that would be worse than storing a longer address, so CdrLocation takes the
    Location limits.
    """

    id: CiString36
    name: String255 | None = None
    address: String255
    city: String45
    postal_code: String10 | None = None
    state: String45 | None = None
    country: String3
    coordinates: GeoLocation
    evse_uid: CiString36  # "#NA" for reservation-only CDRs
    evse_id: CiString48
    connector_id: CiString36
    connector_standard: OpenEnum[ConnectorType]
    connector_format: OpenEnum[ConnectorFormat]
    connector_power_type: OpenEnum[PowerType]


class CdrDimension(OcpiModel):
    type: OpenEnum[CdrDimensionType]
    volume: Number


class ChargingPeriod(OcpiModel):
    start_date_time: DateTime
    dimensions: NonEmptyList[CdrDimension]
    tariff_id: CiString36 | None = None


class SignedValue(OcpiModel):
    nature: CiString32
    plain_data: String5000
    signed_data: String5000


class SignedData(OcpiModel):
    encoding_method: CiString36
    encoding_method_version: NonNegativeInt | None = None
    public_key: String512 | None = None
    signed_values: NonEmptyList[SignedValue]
    url: String512 | None = None


class CDR(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString39  # normal CDR ids fit 36; credit CDRs may add a suffix
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString36 | None = None
    cdr_token: CdrToken
    auth_method: OpenEnum[AuthMethod]
    authorization_reference: CiString36 | None = None
    cdr_location: CdrLocation
    meter_id: String255 | None = None
    currency: String3
    tariffs: OptionalList[Tariff] = Field(default_factory=list)
    charging_periods: NonEmptyList[ChargingPeriod]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number  # kWh
    total_energy_cost: Price | None = None
    total_time: Number  # hours, charging and not charging
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None  # hours
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String255 | None = None
    invoice_reference_id: CiString39 | None = None
    credit: bool | None = None
    credit_reference_id: CiString39 | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime
