"""A tariff element's restrictions in words, e.g. "Mon-Fri 08:00-18:00, from 11 kW, after 2 h": the one describer
the back office's tariff tables (and anything else that shows a tariff to people) use.

The words follow the engine's reading (types.Restrictions): min_* inclusive ("from"), max_* exclusive ("below",
"first"), end_time 00:00 the end of the day ("24:00"), end_date exclusive (shown as the last day it applies),
a start_time after the end_time spans midnight.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

from billing.tariffs.types import DayOfWeek, ReservationRestriction, Restrictions, TariffDimension

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEK = list(DayOfWeek)


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _days(days: frozenset[DayOfWeek]) -> str:
    """Runs of three days or more as a range: "Mon-Fri", "Sat, Sun", "Mon, Wed-Fri"."""
    if not days or len(days) == len(_WEEK):
        return ""
    numbers = sorted(_WEEK.index(day) for day in days)
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_DAY_NAMES[run[0]]}-{_DAY_NAMES[run[-1]]}")
        else:
            parts.extend(_DAY_NAMES[number] for number in run)
    return ", ".join(parts)


def _clock(moment: time, *, end: bool = False) -> str:
    if end and moment == time(0, 0):
        return "24:00"  # OCPI: an end_time of 00:00 is the end of the day
    return moment.strftime("%H:%M")


def _hours_of_day(start: time | None, end: time | None) -> str:
    if start is not None and end is not None:
        return f"{_clock(start)}-{_clock(end, end=True)}"
    if start is not None:
        return f"from {_clock(start)}"
    if end is not None:
        return f"until {_clock(end, end=True)}"
    return ""


def _dates(start: date | None, end: date | None) -> str:
    last = end - timedelta(days=1) if end is not None else None  # end_date is exclusive
    if start is not None and last is not None:
        return f"{start:%Y-%m-%d} to {last:%Y-%m-%d}"
    if start is not None:
        return f"from {start:%Y-%m-%d}"
    if last is not None:
        return f"until {last:%Y-%m-%d}"
    return ""


def duration_text(seconds: int) -> str:
    """7200 -> "2 h", 5400 -> "1 h 30 min", 45 -> "45 s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs else []
    return " ".join(parts) or "0 s"


def _span(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    """A min (inclusive) and max (exclusive) of a rate: "from 11 kW", "below 50 kW", "11 to 50 kW"."""
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)} {unit}"
    if low is not None:
        return f"from {_number(low)} {unit}"
    if high is not None:
        return f"below {_number(high)} {unit}"
    return ""


def _amount(low: Decimal | None, high: Decimal | None, unit: str) -> str:
    """A min and max of what the session has used so far: "after 10 kWh", "first 20 kWh", "10 to 20 kWh"."""
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)} {unit}"
    if low is not None:
        return f"after {_number(low)} {unit}"
    if high is not None:
        return f"first {_number(high)} {unit}"
    return ""


def _duration(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{duration_text(low)} to {duration_text(high)}"
    if low is not None:
        return f"after {duration_text(low)}"
    if high is not None:
        return f"first {duration_text(high)}"
    return ""


_RESERVATION = {
    ReservationRestriction.RESERVATION: "during a reservation",
    ReservationRestriction.RESERVATION_EXPIRES: "when a reservation expires",
}


def restrictions_text(restrictions: Restrictions | None) -> str:
    """When an element applies, in words; "always" for an element without restrictions."""
    if restrictions is None:
        return "always"
    r = restrictions
    when = " ".join(part for part in (_days(r.day_of_week), _hours_of_day(r.start_time, r.end_time)) if part)
    parts = [
        when,
        _dates(r.start_date, r.end_date),
        _span(r.min_power, r.max_power, "kW"),
        _span(r.min_current, r.max_current, "A"),
        _amount(r.min_kwh, r.max_kwh, "kWh"),
        _duration(r.min_duration, r.max_duration),
        _RESERVATION.get(r.reservation, "") if r.reservation else "",
    ]
    return ", ".join(part for part in parts if part) or "always"


_UNITS = {
    TariffDimension.ENERGY: "per kWh",
    TariffDimension.TIME: "per hour charging",
    TariffDimension.PARKING_TIME: "per hour parking",
    TariffDimension.FLAT: "per session",
}


def unit_text(dimension: str) -> str:
    """What a price component's price is per: "per kWh", "per hour charging", ..."""
    try:
        return _UNITS[TariffDimension(dimension)]
    except ValueError:
        return dimension


def step_text(dimension: str, step_size: int) -> str:
    """How a component is billed, in words: "by the Wh", "by 15 min", "by the kWh"; empty for FLAT."""
    if dimension == TariffDimension.ENERGY:
        if step_size == 1:
            return "by the Wh"
        if step_size == 1000:
            return "by the kWh"
        return f"by {step_size / 1000:g} kWh" if step_size % 1000 == 0 else f"by {step_size} Wh"
    if dimension in (TariffDimension.TIME, TariffDimension.PARKING_TIME):
        return "by the second" if step_size == 1 else f"by {duration_text(step_size)}"
    return ""
