"""Prices a session or CDR from its charging periods and tariffs (OCPI 2.2.1 tariffs module).

Rules as read from the specification, with the simulator's choices where it is silent:
- Per dimension (ENERGY, TIME, PARKING_TIME, FLAT) the first element that has a component of that
  dimension and whose restrictions all match at the start of a period prices that period. Periods
  are evaluated at their start, so whoever builds them must cut at every switch point (the
  simulator's own sessions do).
- step_size is applied once per session: ENERGY on the session total; TIME/PARKING_TIME on the total
  of whichever of the two was billed last; reservation TIME separately. The step of the last billed
  component is used and the round-up surplus is billed at that component's price.
- FLAT is billed once per distinct matching component per phase (charging, reservation).
- VAT per component (`vat` absent = no VAT); min_price/max_price clamp excl. and incl. totals
  separately, using the tariff in force at the first period.
- Time volumes are converted to whole seconds (hours x 3600, rounded to the nearest second),
  because 4-decimal hours cannot carry exact seconds and would otherwise overshoot a step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cposim import protocol

DAY_NAMES = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TIME_DIMENSIONS = ("TIME", "PARKING_TIME")
ZERO = Decimal(0)
HOUR = Decimal(3600)


def dec(value: Any) -> Decimal:
    """Decimal from a JSON number however it was parsed (never via binary float arithmetic)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


@dataclass(frozen=True)
class Period:
    """One charging period with its volumes: kWh for energy, whole seconds for times."""

    start: datetime
    end: datetime
    tariff_id: str | None = None
    energy: Decimal = ZERO
    time: Decimal = ZERO
    parking: Decimal = ZERO
    reservation: Decimal = ZERO
    current: Decimal | None = None
    power: Decimal | None = None


def _seconds(hours: Decimal) -> Decimal:
    return (hours * HOUR).quantize(Decimal(1), rounding=ROUND_HALF_UP)


def periods_from_ocpi(charging_periods: list[dict[str, Any]], end: datetime) -> list[Period]:
    """Turn OCPI ChargingPeriods into `Period`s; each ends where the next starts, the last at `end`."""
    starts = [protocol.parse_dt(p["start_date_time"]) for p in charging_periods]
    result = []
    for index, raw in enumerate(charging_periods):
        volumes: dict[str, Decimal] = {}
        for dimension in raw.get("dimensions", []):
            volumes[dimension["type"]] = volumes.get(dimension["type"], ZERO) + dec(dimension["volume"])
        current = next((volumes[k] for k in ("CURRENT", "MAX_CURRENT", "MIN_CURRENT") if k in volumes), None)
        power = next((volumes[k] for k in ("POWER", "MAX_POWER", "MIN_POWER") if k in volumes), None)
        result.append(
            Period(
                start=starts[index],
                end=starts[index + 1] if index + 1 < len(starts) else end,
                tariff_id=raw.get("tariff_id"),
                energy=volumes.get("ENERGY", ZERO),
                time=_seconds(volumes.get("TIME", ZERO)),
                parking=_seconds(volumes.get("PARKING_TIME", ZERO)),
                reservation=_seconds(volumes.get("RESERVATION_TIME", ZERO)),
                current=current,
                power=power,
            )
        )
    return result


@dataclass
class Price:
    excl_vat: Decimal = ZERO
    incl_vat: Decimal = ZERO

    def add(self, other: Price) -> None:
        self.excl_vat += other.excl_vat
        self.incl_vat += other.incl_vat

    def as_ocpi(self) -> dict[str, Decimal]:
        return {"excl_vat": protocol.money(self.excl_vat), "incl_vat": protocol.money(self.incl_vat)}


@dataclass
class Line:
    """A billed volume of one dimension in one period, priced by one component."""

    period: int
    dimension: str
    reservation: bool
    component: dict[str, Any]
    volume: Decimal

    def cost(self) -> Price:
        price = dec(self.component["price"])
        excl = self.volume * price / HOUR if self.dimension in TIME_DIMENSIONS else self.volume * price
        vat = self.component.get("vat")
        incl = excl if vat is None else excl * (1 + dec(vat) / 100)
        return Price(excl, incl)


@dataclass
class Breakdown:
    total: Price
    fixed: Price = field(default_factory=Price)
    energy: Price = field(default_factory=Price)
    time: Price = field(default_factory=Price)
    parking: Price = field(default_factory=Price)
    reservation: Price = field(default_factory=Price)
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True)
class _Moment:
    local: datetime
    kwh: Decimal
    duration: Decimal
    current: Decimal | None
    power: Decimal | None


def _in_window(hhmm: str, start: str | None, end: str | None) -> bool:
    begin = start or "00:00"
    finish = "24:00" if end in (None, "00:00") else str(end)
    if begin < finish:
        return begin <= hhmm < finish
    if begin > finish:  # wraps past midnight
        return hhmm >= begin or hhmm < finish
    return True


def _matches(restrictions: dict[str, Any] | None, moment: _Moment) -> bool:
    if not restrictions:
        return True
    r = restrictions
    if ("start_time" in r or "end_time" in r) and not _in_window(
        moment.local.strftime("%H:%M"), r.get("start_time"), r.get("end_time")
    ):
        return False
    day = moment.local.date().isoformat()
    if "start_date" in r and day < r["start_date"]:
        return False
    if "end_date" in r and day >= r["end_date"]:
        return False
    if "min_kwh" in r and moment.kwh < dec(r["min_kwh"]):
        return False
    if "max_kwh" in r and moment.kwh >= dec(r["max_kwh"]):
        return False
    if "min_duration" in r and moment.duration < dec(r["min_duration"]):
        return False
    if "max_duration" in r and moment.duration >= dec(r["max_duration"]):
        return False
    for low, high, value in (
        ("min_current", "max_current", moment.current),
        ("min_power", "max_power", moment.power),
    ):
        if low in r or high in r:
            if value is None:
                return False
            if low in r and value < dec(r[low]):
                return False
            if high in r and value >= dec(r[high]):
                return False
    return not ("day_of_week" in r and DAY_NAMES[moment.local.weekday()] not in r["day_of_week"])


def _component(
    tariff: dict[str, Any], dimension: str, moment: _Moment, phases: tuple[str | None, ...]
) -> tuple[int, dict[str, Any]] | None:
    for index, element in enumerate(tariff.get("elements", [])):
        restrictions = element.get("restrictions") or {}
        if restrictions.get("reservation") not in phases:
            continue
        for component in element.get("price_components", []):
            if component["type"] == dimension and _matches(restrictions, moment):
                return index, component
    return None


def _round_up(lines: list[Line], unit: Decimal) -> None:
    """Apply the step_size of the last line to the total of `lines`, surplus to the last line."""
    if not lines:
        return
    last = lines[-1]
    step = dec(last.component.get("step_size", 0)) * unit
    if step <= 0:
        return
    total = sum((line.volume for line in lines), ZERO)
    rounded = (total / step).to_integral_value(rounding=ROUND_CEILING) * step
    last.volume += rounded - total


def price_periods(
    tariffs: Mapping[str, dict[str, Any]],
    periods: list[Period],
    *,
    time_zone: str = "UTC",
    reservation_expired: bool = False,
) -> Breakdown:
    """Price the periods of one session; see the module docstring for the rules."""
    zone = ZoneInfo(time_zone)
    only = next(iter(tariffs.values())) if len(tariffs) == 1 else None
    lines: list[Line] = []
    flats_billed: set[tuple[str, int, bool]] = set()
    used: list[dict[str, Any]] = []
    session_start = periods[0].start if periods else None
    kwh = ZERO
    for number, period in enumerate(periods):
        tariff = tariffs.get(period.tariff_id) if period.tariff_id else only
        if tariff is None:
            kwh += period.energy
            continue
        if tariff not in used:
            used.append(tariff)
        duration = Decimal(int((period.start - session_start).total_seconds())) if session_start else ZERO
        power = period.power
        if power is None and period.energy and (period.time or period.end > period.start):
            seconds = period.time or Decimal(int((period.end - period.start).total_seconds()))
            power = period.energy * HOUR / seconds
        moment = _Moment(period.start.astimezone(zone), kwh, duration, period.current, power)
        reserving = period.reservation > 0
        if reserving:
            phases: tuple[str | None, ...] = (
                ("RESERVATION", "RESERVATION_EXPIRES") if reservation_expired else ("RESERVATION",)
            )
            volumes = {"TIME": period.reservation}
        else:
            phases = (None,)
            volumes = {"ENERGY": period.energy, "TIME": period.time, "PARKING_TIME": period.parking}
        for dimension, volume in volumes.items():
            if volume <= 0:
                continue
            found = _component(tariff, dimension, moment, phases)
            if found is not None:
                lines.append(Line(number, dimension, reserving, found[1], volume))
        flat = _component(tariff, "FLAT", moment, phases)
        if flat is not None and (str(tariff.get("id")), flat[0], reserving) not in flats_billed:
            flats_billed.add((str(tariff.get("id")), flat[0], reserving))
            lines.append(Line(number, "FLAT", reserving, flat[1], Decimal(1)))
        kwh += period.energy

    charging = [line for line in lines if not line.reservation]
    _round_up([line for line in charging if line.dimension == "ENERGY"], Decimal("0.001"))
    timed = [line for line in charging if line.dimension in TIME_DIMENSIONS]
    if timed:
        last_dimension = max(timed, key=lambda line: (line.period, line.dimension == "PARKING_TIME")).dimension
        _round_up([line for line in timed if line.dimension == last_dimension], Decimal(1))
    _round_up([line for line in lines if line.reservation and line.dimension == "TIME"], Decimal(1))

    breakdown = Breakdown(total=Price(), lines=lines)
    for line in lines:
        cost = line.cost()
        if line.reservation:
            breakdown.reservation.add(cost)
        elif line.dimension == "FLAT":
            breakdown.fixed.add(cost)
        elif line.dimension == "ENERGY":
            breakdown.energy.add(cost)
        elif line.dimension == "TIME":
            breakdown.time.add(cost)
        else:
            breakdown.parking.add(cost)
        breakdown.total.add(cost)
    if used:
        _clamp(breakdown.total, used[0])
    return breakdown


def _clamp(total: Price, tariff: dict[str, Any]) -> None:
    low = tariff.get("min_price") or {}
    high = tariff.get("max_price") or {}
    if "excl_vat" in low:
        total.excl_vat = max(total.excl_vat, dec(low["excl_vat"]))
    if "incl_vat" in low:
        total.incl_vat = max(total.incl_vat, dec(low["incl_vat"]))
    if "excl_vat" in high:
        total.excl_vat = min(total.excl_vat, dec(high["excl_vat"]))
    if "incl_vat" in high:
        total.incl_vat = min(total.incl_vat, dec(high["incl_vat"]))


def price_charging_periods(
    tariffs: list[dict[str, Any]],
    charging_periods: list[dict[str, Any]],
    end: datetime,
    *,
    time_zone: str = "UTC",
    reservation_expired: bool = False,
) -> Breakdown:
    """Convenience: price OCPI ChargingPeriods (as in a Session or CDR) with a list of tariffs."""
    book = {str(t["id"]): t for t in tariffs}
    return price_periods(
        book,
        periods_from_ocpi(charging_periods, end),
        time_zone=time_zone,
        reservation_expired=reservation_expired,
    )
