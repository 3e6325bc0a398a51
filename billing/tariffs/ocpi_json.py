"""OCPI 2.2.1 and 2.3.0 Tariff and CDR JSON (parsed dicts) to the engine's records, checking what pricing depends on.

Every problem raises TariffInputError naming the field as a path, e.g. `charging_periods[3].dimensions[0].volume`.
Numbers are best parsed with `json.loads(..., parse_float=Decimal)`; floats are accepted and read through their
shortest repr, never through binary arithmetic. Fields pricing does not use (names, alt texts, energy mix,
locations, tokens, the CPO's cost fields) are not checked.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from billing.tariffs.currencies import is_known
from billing.tariffs.engine import validate_cdr
from billing.tariffs.types import (
    Cdr,
    ChargingPeriod,
    DayOfWeek,
    Price,
    PriceComponent,
    ReservationRestriction,
    Restrictions,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffInputError,
    TariffType,
    TaxIncluded,
)

# OCPI DateTime: UTC, with or without Z, optional fractional seconds. "+00:00" is not OCPI but partners send it
# (field notes, section 7), and it is UTC, so we take it; any other offset is refused.
DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")
HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
YMD = re.compile(r"\d{4}-\d{2}-\d{2}")

E = TypeVar("E", TariffDimension, TariffType, DayOfWeek, ReservationRestriction, TaxIncluded)

# CdrDimensionType values the engine reads, and the field of ChargingPeriod each fills.
DIMENSION_FIELDS = {
    "ENERGY": "energy",
    "TIME": "time",
    "PARKING_TIME": "parking_time",
    "RESERVATION_TIME": "reservation_time",
    "MIN_CURRENT": "min_current",
    "MAX_CURRENT": "max_current",
    "MIN_POWER": "min_power",
    "MAX_POWER": "max_power",
}
# Session-only dimensions (OCPI marks them "S"): no price depends on them; tolerated and ignored in a CDR.
SESSION_ONLY_DIMENSIONS = frozenset({"CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"})


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TariffInputError(field, f"expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, field: str, *, required: bool = True) -> list[Any]:
    if not isinstance(value, list):
        raise TariffInputError(field, f"expected a JSON list, got {type(value).__name__}")
    if required and not value:
        raise TariffInputError(field, "empty; at least one is required")
    return value


def _required(data: dict[str, Any], key: str, field: str) -> Any:
    if data.get(key) is None:
        raise TariffInputError(field, "missing")
    return data[key]


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise TariffInputError(field, "expected a non-empty string")
    return value


def _enum(kind: type[E], value: Any, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise TariffInputError(field, f"unknown value {value!r}; expected one of {allowed}") from None


def decimal(value: Any, field: str, *, minimum: Decimal | None = Decimal(0)) -> Decimal:
    """A JSON number as Decimal; by default it must not be negative."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TariffInputError(field, f"expected a number, got {value!r}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise TariffInputError(field, f"not a number: {value!r}") from None
    if not number.is_finite():
        raise TariffInputError(field, f"not a finite number: {value!r}")
    if minimum is not None and number < minimum:
        raise TariffInputError(field, f"negative value {number}" if minimum == 0 else f"below {minimum}: {number}")
    return number


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float | Decimal) and value == int(value):
            return int(value)
        raise TariffInputError(field, f"expected a whole number, got {value!r}")
    return value


def utc_datetime(value: Any, field: str) -> datetime:
    """An OCPI DateTime as an aware UTC datetime. Without a suffix it is UTC (OCPI says so); offsets other than
    +00:00 are refused rather than converted, because a CPO sending them has misunderstood the protocol."""
    if not isinstance(value, str):
        raise TariffInputError(field, f"expected an OCPI DateTime string, got {value!r}")
    match = DATETIME.fullmatch(value)
    if match is None:
        raise TariffInputError(field, f"not an OCPI DateTime (like 2015-06-29T20:39:09Z): {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone not in (None, "Z", "+00:00", "-00:00"):
        raise TariffInputError(field, f"not UTC (offset {zone}): {value!r}; OCPI times are UTC")
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise TariffInputError(field, f"{exc}: {value!r}") from None


def _local_time(value: Any, field: str) -> time:
    if not isinstance(value, str) or not HHMM.fullmatch(value):
        raise TariffInputError(field, f"expected a local time HH:MM (00:00 to 23:59), got {value!r}")
    return time(int(value[:2]), int(value[3:]))


def _local_date(value: Any, field: str) -> date:
    if not isinstance(value, str) or not YMD.fullmatch(value):
        raise TariffInputError(field, f"expected a local date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise TariffInputError(field, f"{exc}: {value!r}") from None


def _currency(value: Any, field: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value):
        raise TariffInputError(field, f"expected an ISO 4217 code (3 capital letters), got {value!r}")
    if not is_known(value):
        raise TariffInputError(field, f"unknown ISO 4217 currency {value!r}")
    return value


def _price(value: Any, field: str) -> Price:
    """A 2.2.1 Price {excl_vat, incl_vat} or a 2.3.0 PriceLimit {before_taxes, after_taxes}."""
    data = _object(value, field)
    excl_key, incl_key = ("before_taxes", "after_taxes") if "before_taxes" in data else ("excl_vat", "incl_vat")
    excl = decimal(_required(data, excl_key, f"{field}.{excl_key}"), f"{field}.{excl_key}")
    incl = None
    if data.get(incl_key) is not None:
        incl = decimal(data[incl_key], f"{field}.{incl_key}")
        if incl < excl:
            raise TariffInputError(f"{field}.{incl_key}", f"{incl} is less than {excl_key} {excl}")
    return Price(excl, incl)


def _above(low: Price, high: Price) -> bool:
    if low.excl_vat > high.excl_vat:
        return True
    return low.incl_vat is not None and high.incl_vat is not None and low.incl_vat > high.incl_vat


def _component(value: Any, field: str) -> PriceComponent:
    data = _object(value, field)
    kind = _enum(TariffDimension, _required(data, "type", f"{field}.type"), f"{field}.type")
    price = decimal(_required(data, "price", f"{field}.price"), f"{field}.price")
    vat = decimal(data["vat"], f"{field}.vat") if data.get("vat") is not None else None
    step = _integer(_required(data, "step_size", f"{field}.step_size"), f"{field}.step_size")
    # The spec's own free tariff has a FLAT with step_size 0; a FLAT has no unit to step, so 0 is fine there.
    if step < 0 or (step == 0 and kind is not TariffDimension.FLAT):
        raise TariffInputError(f"{field}.step_size", f"must be at least 1, got {step}")
    return PriceComponent(type=kind, price=price, step_size=step, vat=vat)


def _pair(data: dict[str, Any], low: str, high: str, field: str) -> tuple[Decimal | None, Decimal | None]:
    lower = decimal(data[low], f"{field}.{low}") if data.get(low) is not None else None
    upper = decimal(data[high], f"{field}.{high}") if data.get(high) is not None else None
    if lower is not None and upper is not None and lower > upper:
        raise TariffInputError(f"{field}.{low}", f"{lower} is above {high} {upper}; the element could never apply")
    return lower, upper


def _restrictions(value: Any, field: str) -> Restrictions:
    data = _object(value, field)
    min_kwh, max_kwh = _pair(data, "min_kwh", "max_kwh", field)
    min_current, max_current = _pair(data, "min_current", "max_current", field)
    min_power, max_power = _pair(data, "min_power", "max_power", field)
    min_duration, max_duration = _pair(data, "min_duration", "max_duration", field)
    for name, number in (("min_duration", min_duration), ("max_duration", max_duration)):
        if number is not None and number != int(number):
            raise TariffInputError(f"{field}.{name}", f"expected whole seconds, got {number}")
    days = data.get("day_of_week") or []
    return Restrictions(
        start_time=_local_time(data["start_time"], f"{field}.start_time") if data.get("start_time") else None,
        end_time=_local_time(data["end_time"], f"{field}.end_time") if data.get("end_time") else None,
        start_date=_local_date(data["start_date"], f"{field}.start_date") if data.get("start_date") else None,
        end_date=_local_date(data["end_date"], f"{field}.end_date") if data.get("end_date") else None,
        min_kwh=min_kwh,
        max_kwh=max_kwh,
        min_current=min_current,
        max_current=max_current,
        min_power=min_power,
        max_power=max_power,
        min_duration=int(min_duration) if min_duration is not None else None,
        max_duration=int(max_duration) if max_duration is not None else None,
        day_of_week=frozenset(
            _enum(DayOfWeek, day, f"{field}.day_of_week[{i}]")
            for i, day in enumerate(_list(days, f"{field}.day_of_week", required=False))
        ),
        reservation=(
            _enum(ReservationRestriction, data["reservation"], f"{field}.reservation")
            if data.get("reservation") is not None
            else None
        ),
    )


def restrictions_from_ocpi(value: Any, field: str = "restrictions") -> Restrictions:
    """One OCPI TariffRestrictions object (billing keeps them as JSON next to its tariff rows)."""
    return _restrictions(value, field)


def tariff_from_ocpi(value: Any, field: str = "") -> Tariff:
    """One OCPI 2.2.1 Tariff object. `field` prefixes error paths, e.g. 'tariffs[0]'."""
    prefix = f"{field}." if field else ""
    data = _object(value, field or "tariff")
    elements = []
    for i, raw in enumerate(_list(_required(data, "elements", f"{prefix}elements"), f"{prefix}elements")):
        where = f"{prefix}elements[{i}]"
        element = _object(raw, where)
        components = _list(
            _required(element, "price_components", f"{where}.price_components"), f"{where}.price_components"
        )
        elements.append(
            TariffElement(
                price_components=tuple(
                    _component(c, f"{where}.price_components[{j}]") for j, c in enumerate(components)
                ),
                restrictions=(
                    _restrictions(element["restrictions"], f"{where}.restrictions")
                    if element.get("restrictions") is not None
                    else None
                ),
            )
        )
    min_price = _price(data["min_price"], f"{prefix}min_price") if data.get("min_price") is not None else None
    max_price = _price(data["max_price"], f"{prefix}max_price") if data.get("max_price") is not None else None
    if min_price is not None and max_price is not None and _above(min_price, max_price):
        raise TariffInputError(f"{prefix}min_price", "above max_price")

    def optional_datetime(key: str) -> datetime | None:
        return utc_datetime(data[key], f"{prefix}{key}") if data.get(key) is not None else None

    return Tariff(
        id=_string(_required(data, "id", f"{prefix}id"), f"{prefix}id"),
        currency=_currency(_required(data, "currency", f"{prefix}currency"), f"{prefix}currency"),
        elements=tuple(elements),
        type=_enum(TariffType, data["type"], f"{prefix}type") if data.get("type") is not None else None,
        min_price=min_price,
        max_price=max_price,
        start_date_time=optional_datetime("start_date_time"),
        end_date_time=optional_datetime("end_date_time"),
        last_updated=optional_datetime("last_updated"),
        country_code=str(data.get("country_code") or ""),
        party_id=str(data.get("party_id") or ""),
        tax_included=(
            _enum(TaxIncluded, data["tax_included"], f"{prefix}tax_included")
            if data.get("tax_included") is not None
            else None
        ),
    )


def tariffs_from_ocpi(value: Any) -> list[Tariff]:
    """One Tariff object or a JSON list of them."""
    if isinstance(value, list):
        return [tariff_from_ocpi(item, f"[{i}]") for i, item in enumerate(_list(value, "tariffs"))]
    return [tariff_from_ocpi(value)]


def _period(value: Any, field: str) -> ChargingPeriod:
    data = _object(value, field)
    volumes: dict[str, Any] = {}
    for i, raw in enumerate(_list(_required(data, "dimensions", f"{field}.dimensions"), f"{field}.dimensions")):
        where = f"{field}.dimensions[{i}]"
        dimension = _object(raw, where)
        kind = _required(dimension, "type", f"{where}.type")
        volume = _required(dimension, "volume", f"{where}.volume")
        if kind in SESSION_ONLY_DIMENSIONS:
            continue
        if kind not in DIMENSION_FIELDS:
            allowed = ", ".join(sorted(DIMENSION_FIELDS))
            raise TariffInputError(f"{where}.type", f"unknown CDR dimension {kind!r}; expected one of {allowed}")
        name = DIMENSION_FIELDS[kind]
        if name in volumes:
            raise TariffInputError(f"{where}.type", f"{kind} given twice in one period")
        volumes[name] = decimal(volume, f"{where}.volume")
    tariff_id = data.get("tariff_id")
    return ChargingPeriod(
        start_date_time=utc_datetime(
            _required(data, "start_date_time", f"{field}.start_date_time"), f"{field}.start_date_time"
        ),
        tariff_id=_string(tariff_id, f"{field}.tariff_id") if tariff_id is not None else None,
        **volumes,
    )


def cdr_from_ocpi(value: Any) -> Cdr:
    """One OCPI 2.2.1 CDR. Its cost fields are ignored (we recompute them); its tariffs, if any, are kept."""
    data = _object(value, "cdr")
    periods = _list(_required(data, "charging_periods", "charging_periods"), "charging_periods")
    tariffs = data.get("tariffs")

    def optional_volume(key: str) -> Decimal | None:
        return decimal(data[key], key) if data.get(key) is not None else None

    cdr = Cdr(
        id=str(data.get("id") or ""),
        start_date_time=utc_datetime(_required(data, "start_date_time", "start_date_time"), "start_date_time"),
        end_date_time=utc_datetime(_required(data, "end_date_time", "end_date_time"), "end_date_time"),
        currency=_currency(_required(data, "currency", "currency"), "currency"),
        charging_periods=tuple(_period(p, f"charging_periods[{i}]") for i, p in enumerate(periods)),
        tariffs=tuple(
            tariff_from_ocpi(t, f"tariffs[{i}]") for i, t in enumerate(_list(tariffs, "tariffs", required=False))
        )
        if tariffs is not None
        else (),
        total_energy=optional_volume("total_energy"),
        total_time=optional_volume("total_time"),
        total_parking_time=optional_volume("total_parking_time"),
    )
    validate_cdr(cdr)
    return cdr
