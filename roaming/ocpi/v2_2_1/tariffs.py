"""Tariffs module. There is no Tariff PATCH in 2.2.x (it existed in 2.1.1): PUT replaces, DELETE removes.

Reference: OCPI 2.2.1 mod_tariffs.asciidoc.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, TypeAlias

from pydantic import Field

from .locations import EnergyMix
from .types import (
    URL,
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    DisplayText,
    LocalDate,
    NonEmptyList,
    NonNegativeInt,
    Number,
    OcpiModel,
    OpenEnum,
    OptionalList,
    Price,
    String3,
    TimeOfDay,
)


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


#: VAT in percent; stored as DECIMAL(5, 2).
VatPercentage: TypeAlias = Annotated[Number, Field(ge=0, le=Decimal("999.99"))]

#: Elements and their price components are stored with their position, in a smallint column.
_MAX_POSITIONS = 32_768


class PriceComponent(OcpiModel):
    type: OpenEnum[TariffDimensionType]
    price: Number  # per unit, excl. VAT
    vat: VatPercentage | None = None  # absent = no VAT applies, which is not the same as 0
    step_size: NonNegativeInt  # in Wh (ENERGY) or seconds (TIME, PARKING_TIME); the free-tariff example uses 0


class TariffRestrictions(OcpiModel):
    """All optional and AND-combined. Times and dates are local to the Location's time_zone."""

    start_time: TimeOfDay | None = None
    end_time: TimeOfDay | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: NonNegativeInt | None = None  # seconds
    max_duration: NonNegativeInt | None = None  # seconds
    day_of_week: OptionalList[OpenEnum[DayOfWeek]] = Field(default_factory=list)
    reservation: OpenEnum[ReservationRestrictionType] | None = None


class TariffElement(OcpiModel):
    price_components: Annotated[NonEmptyList[PriceComponent], Field(max_length=_MAX_POSITIONS)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    currency: String3
    type: OpenEnum[TariffType] | None = None  # absent = valid for all sessions
    tariff_alt_text: OptionalList[DisplayText] = Field(default_factory=list)
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[NonEmptyList[TariffElement], Field(max_length=_MAX_POSITIONS)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
