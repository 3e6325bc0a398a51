"""The records the tariff engine reads and writes: plain frozen dataclasses, Decimal money, aware UTC datetimes.

They mirror the OCPI 2.2.1 Tariff and CDR objects closely enough that `ocpi_json` can fill them, but carry
only what pricing needs. Nothing here imports Django or the platform, so the engine can be used and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

ZERO = Decimal(0)


class TariffInputError(ValueError):
    """A tariff or CDR the engine cannot price; `field` names the offending field, e.g. `elements[1].step_size`."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


class TariffDimension(StrEnum):
    """What a price component charges for (OCPI TariffDimensionType)."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class DayOfWeek(StrEnum):
    """In Python's weekday() order, so `list(DayOfWeek).index(day)` is the weekday number."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class TaxIncluded(StrEnum):
    """Whether a tariff's prices include taxes (OCPI 2.3.0 Tariff.tax_included; 2.2.1 tariffs have none: excl.)."""

    YES = "YES"
    NO = "NO"
    NOT_APPLICABLE = "N/A"


class ReservationRestriction(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


@dataclass(frozen=True, slots=True)
class Price:
    """An amount excluding VAT and, when known, including it (OCPI Price)."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """Price per unit (kWh, hour, or once for FLAT) excl. VAT; `vat` None means no VAT applies (unlike 0)."""

    type: TariffDimension
    price: Decimal
    step_size: int
    vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Restrictions:
    """When an element applies. Times and dates are the Location's local ones; all set fields must hold.

    end_time 00:00 means the end of the day; start_date is inclusive, end_date exclusive; min_* inclusive,
    max_* exclusive; durations in seconds; an empty day_of_week means every day.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[DayOfWeek] = frozenset()
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """An OCPI Tariff as far as pricing needs it; start/end_date_time only matter when choosing a tariff."""

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    type: TariffType | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    last_updated: datetime | None = None
    country_code: str = ""
    party_id: str = ""
    tax_included: TaxIncluded | None = None  # None: 2.2.1, prices excl. VAT (as NO)


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """One CDR charging period; it ends where the next starts (the last at the CDR's end).

    Volumes: energy in kWh, time (charging), parking_time and reservation_time in hours. A period with
    reservation_time set is part of the reservation that preceded charging. Current (A, summed over phases)
    and power (kW) are the period's MIN/MAX dimensions, used for current and power restrictions.
    """

    start_date_time: datetime
    energy: Decimal = ZERO
    time: Decimal = ZERO
    parking_time: Decimal = ZERO
    reservation_time: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    tariff_id: str | None = None


@dataclass(frozen=True, slots=True)
class Cdr:
    """What the engine prices: the session's span and periods, and the tariffs the CDR carries, if any.

    The CPO's own cost fields are not here on purpose: we recompute, we don't trust. The totals of volumes
    are optional and only used to warn when they disagree with the periods.
    """

    start_date_time: datetime
    end_date_time: datetime
    currency: str
    charging_periods: tuple[ChargingPeriod, ...]
    tariffs: tuple[Tariff, ...] = ()
    total_energy: Decimal | None = None
    total_time: Decimal | None = None
    total_parking_time: Decimal | None = None
    id: str = ""


class LineKind(StrEnum):
    """Why a breakdown line exists."""

    VOLUME = "VOLUME"  # a part of a period, priced per unit
    UNPRICED = "UNPRICED"  # a volume no element prices: free
    FLAT = "FLAT"  # a fixed fee, once per phase and element
    STEP = "STEP"  # the step_size round-up (can be a hair negative: times are first rounded to the second)
    MIN_PRICE = "MIN_PRICE"  # raises the total to the tariff's min_price
    MAX_PRICE = "MAX_PRICE"  # lowers the total to the tariff's max_price


class PriceLine(NamedTuple):
    """One line of the breakdown: which element and component priced what, when, at what price.

    `volume` is in kWh (ENERGY), hours (TIME, PARKING_TIME; reservation time under TIME) or 1 (FLAT).
    Amounts are exact (not rounded). `element` is the index in the tariff's elements; `period` the index
    of the CDR's charging period.
    """

    kind: LineKind
    dimension: TariffDimension | None
    reservation: bool
    period: int | None
    tariff_id: str
    element: int | None
    start: datetime
    end: datetime
    volume: Decimal
    unit_price: Decimal
    vat: Decimal | None
    step_size: int | None
    excl_vat: Decimal
    incl_vat: Decimal | None


@dataclass(frozen=True, slots=True)
class CdrPrice:
    """The engine's answer. Costs are rounded to the currency's minor unit; `exact_total` is not.

    `fixed` is the charging phase's FLAT fees; `reservation` holds the reservation's FLAT and TIME.
    Volumes are the billed ones (after step_size), only what some element priced.
    incl_vat is None wherever a contributing component has no VAT, or a min/max price without incl_vat applied.
    """

    currency: str
    total: Price
    energy: Price
    time: Price
    parking: Price
    fixed: Price
    reservation: Price
    exact_total: Price
    energy_kwh: Decimal
    time_hours: Decimal
    parking_hours: Decimal
    reservation_hours: Decimal
    lines: tuple[PriceLine, ...]
    warnings: tuple[str, ...] = ()
    #: False when a tariff gives prices incl. taxes (tax_included YES) without a VAT rate to take them out:
    #: the excl_vat figures then hold the amounts incl. taxes and must not be compared or billed as excl.
    excl_vat_known: bool = True
