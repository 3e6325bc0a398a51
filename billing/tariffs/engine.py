"""Prices a CDR with OCPI 2.2.1 tariffs. The rules, and where we chose because the spec is silent, are in
docs/billing.md; the short version:

- Each charging period is cut wherever a restriction could change inside it (a local time of day, local midnight,
  a daylight-saving change, a session duration, a kWh total). Volumes are spread evenly over the period's
  wall-clock span, so a part gets its share of the period's energy, time and parking time.
- Per part and per dimension the first element that has a component of that dimension and whose restrictions
  all hold prices the part's volume. No match: the volume is free. Current and power restrictions look at the
  period's MAX (else MIN) value; power falls back to energy / charging time.
- FLAT: every element whose FLAT component is the active one at some moment is billed once per phase
  (reservation, charging).
- step_size once per session and dimension group, with the step of the last priced component, the surplus at
  that component's price: ENERGY; TIME or PARKING_TIME, whichever was priced last; reservation TIME.
- VAT per component; min/max price clamp excl. and incl. VAT separately; money is rounded once, at the end,
  to the currency's minor unit, half up.
- OCPI 2.3.0 `tax_included`: NO (and 2.2.1, which has no such field) prices are excl. VAT; YES prices are incl.
  taxes, so with a VAT rate the excl. amount is price / (1 + vat/100), without one the excl. amount is unknown
  (`CdrPrice.excl_vat_known` False; the excl. figures then hold the amounts incl. taxes); N/A: no taxes, so incl.
  equals excl.

All arithmetic is Decimal; instants are integer microseconds since the epoch (UTC) inside the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.tariffs.currencies import minor_unit
from billing.tariffs.types import (
    ZERO,
    Cdr,
    CdrPrice,
    DayOfWeek,
    LineKind,
    Price,
    PriceComponent,
    PriceLine,
    ReservationRestriction,
    Restrictions,
    Tariff,
    TariffDimension,
    TariffInputError,
    TariffType,
    TaxIncluded,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
SECOND_US = 1_000_000
DAY_US = 86_400 * SECOND_US
HOUR_S = Decimal(3600)
HOUR_US = Decimal(3600 * SECOND_US)
WH_PER_KWH = Decimal(1000)
ONE = Decimal(1)
MICRO = Decimal("0.000001")
HUNDRED = Decimal(100)
WEEKDAYS = {day: number for number, day in enumerate(DayOfWeek)}
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday

ENERGY = TariffDimension.ENERGY
TIME = TariffDimension.TIME
PARKING = TariffDimension.PARKING_TIME
FLAT = TariffDimension.FLAT

CHARGING, RESERVING, RESERVATION_EXPIRED = 0, 1, 2


def to_us(moment: datetime) -> int:
    return (moment - EPOCH) // US


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


@lru_cache(maxsize=256)
def zone_named(name: str) -> ZoneInfo:
    """The IANA zone, cached: building one reads the tz database."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TariffInputError("time_zone", f"unknown IANA time zone {name!r}") from exc


# --- compiled tariffs: the restrictions as plain numbers, the elements per phase and dimension ------------


class _Component:
    __slots__ = ("dimension", "element", "price", "step", "vat", "vat_factor")

    def __init__(self, component: PriceComponent, element: int, tax_included: TaxIncluded | None = None) -> None:
        self.dimension = component.type
        self.element = element
        self.price = component.price
        self.step = component.step_size
        self.vat = component.vat
        self.vat_factor = None if component.vat is None else ONE + component.vat / HUNDRED
        if tax_included is TaxIncluded.YES:
            # The price includes the taxes: take the VAT out when its rate is given; without a rate the tax part
            # is unknown, and the amount incl. taxes is all we know (see CdrPrice.excl_vat_known).
            if self.vat_factor is not None:
                self.price = component.price / self.vat_factor
            else:
                self.vat_factor = ONE
        elif tax_included is TaxIncluded.NOT_APPLICABLE:
            self.vat_factor = ONE


class _Element:
    """One element's restrictions in microseconds, days since the epoch and Decimals, for a fast check."""

    __slots__ = (
        "always",
        "days",
        "end_day",
        "end_tod",
        "index",
        "max_current",
        "max_duration",
        "max_kwh",
        "max_power",
        "min_current",
        "min_duration",
        "min_kwh",
        "min_power",
        "reservation",
        "start_day",
        "start_tod",
        "timed",
    )

    def __init__(self, index: int, r: Restrictions | None) -> None:
        self.index = index
        r = r or Restrictions()
        self.reservation = r.reservation
        self.timed = r.start_time is not None or r.end_time is not None
        self.start_tod = _tod_us(r.start_time) if r.start_time is not None else 0
        end = _tod_us(r.end_time) if r.end_time is not None else 0
        self.end_tod = end or DAY_US  # 00:00 as an end is the end of the day
        self.start_day = _day_number(r.start_date) if r.start_date is not None else None
        self.end_day = _day_number(r.end_date) if r.end_date is not None else None
        self.days = frozenset(WEEKDAYS[d] for d in r.day_of_week) if r.day_of_week else None
        self.min_kwh, self.max_kwh = r.min_kwh, r.max_kwh
        self.min_current, self.max_current = r.min_current, r.max_current
        self.min_power, self.max_power = r.min_power, r.max_power
        self.min_duration = r.min_duration * SECOND_US if r.min_duration is not None else None
        self.max_duration = r.max_duration * SECOND_US if r.max_duration is not None else None
        self.always = not (
            self.timed
            or self.start_day is not None
            or self.end_day is not None
            or self.days is not None
            or r.min_kwh is not None
            or r.max_kwh is not None
            or r.min_current is not None
            or r.max_current is not None
            or r.min_power is not None
            or r.max_power is not None
            or r.min_duration is not None
            or r.max_duration is not None
        )

    def holds(
        self,
        tod: int,
        day: int,
        weekday: int,
        kwh: Decimal,
        duration: int,
        current: Decimal | None,
        power: Decimal | None,
    ) -> bool:
        """Whether all restrictions hold at one moment (the reservation one is handled by the phase lists)."""
        if self.always:
            return True
        if self.timed:
            start, end = self.start_tod, self.end_tod
            if start < end:
                if not start <= tod < end:
                    return False
            elif start > end and end <= tod < start:  # the window wraps past midnight
                return False
        if self.start_day is not None and day < self.start_day:
            return False
        if self.end_day is not None and day >= self.end_day:
            return False
        if self.days is not None and weekday not in self.days:
            return False
        if self.min_kwh is not None and kwh < self.min_kwh:
            return False
        if self.max_kwh is not None and kwh >= self.max_kwh:
            return False
        if self.min_duration is not None and duration < self.min_duration:
            return False
        if self.max_duration is not None and duration >= self.max_duration:
            return False
        if self.min_current is not None or self.max_current is not None:
            if current is None:
                return False
            if self.min_current is not None and current < self.min_current:
                return False
            if self.max_current is not None and current >= self.max_current:
                return False
        if self.min_power is not None or self.max_power is not None:
            if power is None:
                return False
            if self.min_power is not None and power < self.min_power:
                return False
            if self.max_power is not None and power >= self.max_power:
                return False
        return True


def _tod_us(moment: time) -> int:
    return (moment.hour * 3600 + moment.minute * 60) * SECOND_US


def _day_number(day: date) -> int:
    return day.toordinal() - EPOCH_ORDINAL


class _Compiled:
    """A tariff ready for the hot loop: per phase, per dimension, the (element, component) pairs in order."""

    __slots__ = ("durations", "elements", "kwh_marks", "lists", "local", "tariff", "tods")

    def __init__(self, tariff: Tariff) -> None:
        self.tariff = tariff
        self.elements = [_Element(i, e.restrictions) for i, e in enumerate(tariff.elements)]
        phases: dict[int, tuple[ReservationRestriction | None, ...]] = {
            CHARGING: (None,),
            RESERVING: (ReservationRestriction.RESERVATION,),
            RESERVATION_EXPIRED: (ReservationRestriction.RESERVATION_EXPIRES, ReservationRestriction.RESERVATION),
        }
        self.lists: dict[tuple[int, TariffDimension], list[tuple[_Element, _Component]]] = {}
        for phase, accepted in phases.items():
            for dimension in TariffDimension:
                pairs = []
                for element, source in zip(self.elements, tariff.elements, strict=True):
                    if element.reservation not in accepted:
                        continue
                    component = next((c for c in source.price_components if c.type == dimension), None)
                    if component is not None:
                        pairs.append((element, _Component(component, element.index, tariff.tax_included)))
                self.lists[phase, dimension] = pairs
        tods: set[int] = set()
        durations: set[int] = set()
        kwh_marks: set[Decimal] = set()
        local = False
        for element in self.elements:
            if element.timed:
                tods.update((element.start_tod % DAY_US, element.end_tod % DAY_US))
            if element.timed or element.start_day is not None or element.end_day is not None or element.days:
                local = True
            durations.update(d for d in (element.min_duration, element.max_duration) if d is not None)
            kwh_marks.update(k for k in (element.min_kwh, element.max_kwh) if k is not None)
        tods.add(0)  # local midnight: dates and days of the week change there
        self.local = local
        self.tods = sorted(tods) if local else []
        self.durations = sorted(durations)
        self.kwh_marks = sorted(kwh_marks)


_compiled_cache: dict[int, tuple[Tariff, _Compiled]] = {}


def _compile(tariff: Tariff) -> _Compiled:
    """Compiled once per tariff object (tariffs are immutable; the cache keeps the object alive with its id)."""
    hit = _compiled_cache.get(id(tariff))
    if hit is not None and hit[0] is tariff:
        return hit[1]
    if len(_compiled_cache) > 4096:
        _compiled_cache.clear()
    compiled = _Compiled(tariff)
    _compiled_cache[id(tariff)] = (tariff, compiled)
    return compiled


# --- local time: spans of constant UTC offset -----------------------------------------------------------


def _offset_us(zone: ZoneInfo, instant: int) -> int:
    offset = from_us(instant).astimezone(zone).utcoffset()
    return offset // US if offset is not None else 0


def _offset_spans(zone: ZoneInfo | None, start: int, end: int) -> list[tuple[int, int]]:
    """[(from, utc_offset)] covering start..end; a new span begins at each daylight-saving change.

    Offsets are sampled once a day (zones change offset at most a few times a year); a change between two
    samples is located by bisection to the whole second, which is where zones change.
    """
    if zone is None:
        return [(start, 0)]
    spans = [(start, _offset_us(zone, start))]
    at = start
    while at < end:
        nxt = min(at + DAY_US, end)
        offset = _offset_us(zone, nxt)
        if offset == spans[-1][1]:
            at = nxt
            continue
        low, high = at // SECOND_US, -(-nxt // SECOND_US)
        while high - low > 1:
            middle = (low + high) // 2
            if _offset_us(zone, middle * SECOND_US) == spans[-1][1]:
                low = middle
            else:
                high = middle
        change = high * SECOND_US
        spans.append((change, _offset_us(zone, change)))
        at = change
    return spans


def _offset_at(spans: list[tuple[int, int]], instant: int) -> int:
    offset = spans[0][1]
    for begin, value in spans:
        if begin > instant:
            break
        offset = value
    return offset


# --- choosing the tariff --------------------------------------------------------------------------------


def select_tariff(
    tariff_id: str | None,
    cdr_tariffs: Sequence[Tariff],
    available: Sequence[Tariff] = (),
    *,
    at: datetime | None = None,
    tariff_type: TariffType = TariffType.REGULAR,
    field: str = "tariff_id",
) -> Tariff:
    """The tariff for a charging period. The CDR's own tariffs win (they are the tariffs as they were when the
    session started); the ones we hold are the fallback.

    A period naming no tariff gets the only tariff there is, or else the one of `tariff_type` (untyped tariffs
    apply to every session) active at `at`; anything else is ambiguous and an error.
    """
    if tariff_id is not None:
        for pool in (cdr_tariffs, available):
            for tariff in pool:
                if tariff.id == tariff_id:
                    return tariff
        raise TariffInputError(field, f"no tariff {tariff_id!r} in the CDR or among the available tariffs")
    pool = cdr_tariffs or available
    if len(pool) == 1:
        return pool[0]
    if not pool:
        raise TariffInputError(field, "no tariff to price with: the CDR carries none and none are available")
    active = [t for t in pool if at is None or _in_force(t, at)]
    for wanted in (tariff_type, None):
        matching = [t for t in active if t.type == wanted]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            break
    raise TariffInputError(field, f"missing, and {len(pool)} tariffs could apply; cannot choose")


def _in_force(tariff: Tariff, at: datetime) -> bool:
    starts, ends = tariff.start_date_time, tariff.end_date_time
    return (starts is None or starts <= at) and (ends is None or at < ends)


# --- pricing --------------------------------------------------------------------------------------------


class _Group:
    """The priced lines of one step_size group (ENERGY; TIME/PARKING_TIME; reservation TIME)."""

    __slots__ = ("last", "lines", "tariff_id")

    def __init__(self) -> None:
        self.lines: list[tuple[TariffDimension, Decimal]] = []
        self.last: tuple[_Component, int] | None = None  # the last priced component and its line's index
        self.tariff_id = ""


def _check_utc(moment: datetime, field: str) -> None:
    offset = moment.utcoffset()
    if offset is None:
        raise TariffInputError(field, "naive datetime; CDR times must be UTC")
    if offset:
        raise TariffInputError(field, f"not UTC (offset {offset}); CDR times must be UTC")


def validate_cdr(cdr: Cdr) -> None:
    """Cheap checks the loop relies on; `ocpi_json` checks the same and more on the way in."""
    _check_utc(cdr.start_date_time, "start_date_time")
    _check_utc(cdr.end_date_time, "end_date_time")
    if cdr.end_date_time < cdr.start_date_time:
        raise TariffInputError("end_date_time", "before start_date_time")
    if not cdr.charging_periods:
        raise TariffInputError("charging_periods", "empty; a CDR has at least one charging period")
    previous: datetime | None = None
    charging_seen = False
    for index, period in enumerate(cdr.charging_periods):
        field = f"charging_periods[{index}]"
        _check_utc(period.start_date_time, f"{field}.start_date_time")
        if previous is not None and period.start_date_time < previous:
            raise TariffInputError(f"{field}.start_date_time", "before the previous period's start (out of order)")
        if period.start_date_time < cdr.start_date_time:
            raise TariffInputError(f"{field}.start_date_time", "before the CDR's start_date_time")
        if period.start_date_time > cdr.end_date_time:
            raise TariffInputError(f"{field}.start_date_time", "after the CDR's end_date_time")
        previous = period.start_date_time
        for name in ("energy", "time", "parking_time", "reservation_time"):
            volume = getattr(period, name)
            if volume is not None and volume < 0:
                raise TariffInputError(f"{field}.{name}", f"negative volume {volume}")
        if period.reservation_time is not None:
            if period.energy or period.time or period.parking_time:
                raise TariffInputError(field, "a reservation period cannot also carry energy, time or parking time")
            if charging_seen:
                raise TariffInputError(field, "a reservation period after charging began")
        else:
            charging_seen = True


def price_cdr(
    cdr: Cdr,
    *,
    time_zone: str | ZoneInfo = "UTC",
    available: Sequence[Tariff] = (),
    tariff_type: TariffType = TariffType.REGULAR,
) -> CdrPrice:
    """Price a CDR from its charging periods. `time_zone` is the Location's IANA zone (restriction times are
    local, CDR times UTC); `available` are the tariffs we hold, used when the CDR carries none."""
    validate_cdr(cdr)
    zone = zone_named(time_zone) if isinstance(time_zone, str) else time_zone
    if zone.key in ("UTC", "Etc/UTC", "Etc/GMT", "GMT"):
        zone_or_none: ZoneInfo | None = None
    else:
        zone_or_none = zone

    periods = cdr.charging_periods
    count = len(periods)
    end_us = to_us(cdr.end_date_time)
    starts = [to_us(p.start_date_time) for p in periods]
    ends = [*starts[1:], end_us]

    # Tariff per period, chosen and compiled once per distinct tariff_id.
    chosen: dict[str | None, _Compiled] = {}
    compiled_periods: list[_Compiled] = []
    for index, period in enumerate(periods):
        compiled = chosen.get(period.tariff_id)
        if compiled is None:
            tariff = select_tariff(
                period.tariff_id,
                cdr.tariffs,
                available,
                at=cdr.start_date_time,
                tariff_type=tariff_type,
                field=f"charging_periods[{index}].tariff_id",
            )
            if tariff.currency != cdr.currency:
                raise TariffInputError(
                    f"charging_periods[{index}].tariff_id",
                    f"tariff {tariff.id!r} is in {tariff.currency}, the CDR in {cdr.currency}",
                )
            compiled = chosen[period.tariff_id] = _compile(tariff)
        compiled_periods.append(compiled)

    any_local = any(c.local for c in chosen.values())
    spans = _offset_spans(zone_or_none, starts[0], end_us) if any_local else [(starts[0], 0)]

    reserving = [p.reservation_time is not None for p in periods]
    expired = all(reserving)
    charging_start = next((starts[i] for i in range(count) if not reserving[i]), starts[0])
    reservation_start = starts[0]

    lines: list[PriceLine] = []
    energy_group, time_group, reservation_group = _Group(), _Group(), _Group()
    flats_billed: set[tuple[int, int, bool]] = set()
    kwh_so_far = ZERO

    for index in range(count):
        period = periods[index]
        compiled = compiled_periods[index]
        tariff_id = compiled.tariff.id
        start, end = starts[index], ends[index]
        span = end - start
        is_reservation = reserving[index]
        if is_reservation:
            phase = RESERVATION_EXPIRED if expired else RESERVING
            phase_start = reservation_start
            volumes: tuple[tuple[TariffDimension, Decimal], ...] = ((TIME, period.reservation_time or ZERO),)
        else:
            phase = CHARGING
            phase_start = charging_start
            volumes = ((ENERGY, period.energy), (TIME, period.time), (PARKING, period.parking_time))
        energy = period.energy
        current = period.max_current if period.max_current is not None else period.min_current
        power = period.max_power if period.max_power is not None else period.min_power
        if power is None and energy and period.time:
            power = energy / period.time  # kWh per hour of charging: the average power

        # Cut points strictly inside the period.
        cuts: set[int] = set()
        if span > 0:
            if compiled.local:
                _local_cuts(cuts, spans, compiled.tods, start, end)
            for mark in compiled.durations:
                at = phase_start + mark
                if start < at < end:
                    cuts.add(at)
            if energy and compiled.kwh_marks:
                for kwh_mark in compiled.kwh_marks:
                    if kwh_so_far < kwh_mark < kwh_so_far + energy:
                        at = start + int(((kwh_mark - kwh_so_far) / energy * span).to_integral_value(ROUND_HALF_UP))
                        if start < at < end:
                            cuts.add(at)
        bounds = [start, *sorted(cuts), end] if cuts else [start, end]

        flat_list = compiled.lists[phase, FLAT]
        dimension_lists = [compiled.lists[phase, d] for d, _ in volumes]
        done = [ZERO] * len(volumes)  # volume already given to earlier parts, per dimension
        previous = [-1] * len(volumes)  # index in `lines` of this period's latest line, per dimension
        groups = (reservation_group,) if is_reservation else (energy_group, time_group, time_group)
        last_part = len(bounds) - 2
        for part in range(last_part + 1):
            a, b = bounds[part], bounds[part + 1]
            middle = (a + b) // 2
            if compiled.local:
                local = middle + _offset_at(spans, middle)
                day = local // DAY_US
                tod = local - day * DAY_US
                weekday = (day + EPOCH_WEEKDAY) % 7
            else:
                tod = day = weekday = 0
            kwh = kwh_so_far
            if energy and span and compiled.kwh_marks:
                kwh += energy * (middle - start) / span
            duration = middle - phase_start
            holds: list[bool | None] = [None] * len(compiled.elements)
            part_start, part_end = from_us(a), from_us(b)

            for slot, (dimension, total) in enumerate(volumes):
                if not total:
                    continue
                # The last part takes what is left, so the parts add up to the period's volume exactly.
                volume = total - done[slot] if part == last_part else total * (b - start) / span - done[slot]
                done[slot] += volume
                if not volume:
                    continue
                found: tuple[_Element, _Component] | None = None
                for element, component in dimension_lists[slot]:
                    ok = holds[element.index]
                    if ok is None:
                        ok = holds[element.index] = element.holds(tod, day, weekday, kwh, duration, current, power)
                    if ok:
                        found = (element, component)
                        break
                incl: Decimal | None
                if found is None:
                    kind, comp_or_none, excl, incl = LineKind.UNPRICED, None, ZERO, ZERO
                else:
                    comp_or_none = found[1]
                    kind, excl = LineKind.VOLUME, volume * comp_or_none.price
                    incl = _incl(excl, comp_or_none.vat_factor)
                element_index = None if comp_or_none is None else comp_or_none.element
                # A part priced like the one before it extends that line: cuts made for other elements'
                # boundaries should not split the breakdown.
                at = previous[slot]
                if at >= 0 and lines[at].kind is kind and lines[at].element == element_index:
                    before = lines[at]
                    lines[at] = before._replace(
                        end=part_end,
                        volume=before.volume + volume,
                        excl_vat=before.excl_vat + excl,
                        incl_vat=None if before.incl_vat is None or incl is None else before.incl_vat + incl,
                    )
                else:
                    previous[slot] = len(lines)
                    lines.append(
                        PriceLine(
                            kind,
                            dimension,
                            is_reservation,
                            index,
                            tariff_id,
                            element_index,
                            part_start,
                            part_end,
                            volume,
                            ZERO if comp_or_none is None else comp_or_none.price,
                            None if comp_or_none is None else comp_or_none.vat,
                            None if comp_or_none is None else comp_or_none.step,
                            excl,
                            incl,
                        )
                    )
                if comp_or_none is not None:
                    group = groups[slot]
                    group.lines.append((dimension, volume))
                    group.last = (comp_or_none, previous[slot])

            for element, comp in flat_list:
                ok = holds[element.index]
                if ok is None:
                    ok = holds[element.index] = element.holds(tod, day, weekday, kwh, duration, current, power)
                if ok:
                    key = (id(compiled), element.index, is_reservation)
                    if key not in flats_billed:
                        flats_billed.add(key)
                        lines.append(
                            PriceLine(
                                LineKind.FLAT,
                                FLAT,
                                is_reservation,
                                index,
                                tariff_id,
                                comp.element,
                                part_start,
                                part_end,
                                ONE,
                                comp.price,
                                comp.vat,
                                None,
                                comp.price,
                                _incl(comp.price, comp.vat_factor),
                            )
                        )
                    break
        if not is_reservation:
            kwh_so_far += energy

    _round_up(lines, energy_group, WH_PER_KWH, by_second=False)
    _round_up(lines, time_group, HOUR_S, by_second=True)
    _round_up(lines, reservation_group, HOUR_S, by_second=True)
    # Tariffs whose prices include taxes at a rate they do not give: their amounts cannot be split.
    unsplit = {c.tariff.id for c in compiled_periods if c.tariff.tax_included is TaxIncluded.YES}
    return _totals(cdr, lines, compiled_periods[0].tariff, _warnings(cdr), unsplit)


def _incl(excl: Decimal, vat_factor: Decimal | None) -> Decimal | None:
    """The amount incl. VAT; unknown without a VAT rate, except on nothing (a free component is free)."""
    if vat_factor is not None:
        return excl * vat_factor
    return ZERO if not excl else None


def _local_cuts(cuts: set[int], spans: list[tuple[int, int]], tods: list[int], start: int, end: int) -> None:
    """Add every instant in (start, end) where the local clock shows one of `tods`, and every offset change."""
    for number, (begin, offset) in enumerate(spans):
        finish = spans[number + 1][0] if number + 1 < len(spans) else end
        low, high = max(start, begin), min(end, finish)
        if low >= high:
            continue
        if start < begin < end:
            cuts.add(begin)
        day = (low + offset) // DAY_US
        last_day = (high + offset) // DAY_US
        while day <= last_day:
            base = day * DAY_US - offset
            for tod in tods:
                at = base + tod
                if low < at < high:
                    cuts.add(at)
            day += 1


def _round_up(lines: list[PriceLine], group: _Group, unit: Decimal, *, by_second: bool) -> None:
    """Apply step_size to one group: round the total of the last priced dimension up to the last component's
    step, and bill the surplus at that component's price (a STEP line after everything else)."""
    if group.last is None:
        return
    component, at = group.last
    last = lines[at]
    dimension = component.dimension
    total = sum((v for d, v in group.lines if d == dimension), ZERO) * unit  # in Wh or seconds
    exact = total
    # Times: OCPI hours carry 4 decimals (0.36 s), so 10 minutes arrives as 600.12 s; count whole seconds.
    # Energy: a sum of parts can be 1e-25 Wh off a whole number, which must not cost a whole step more.
    total = total.to_integral_value(ROUND_HALF_UP) if by_second else total.quantize(MICRO, ROUND_HALF_UP)
    step = Decimal(component.step) if component.step > 0 else ONE
    billed = (total / step).to_integral_value(ROUND_CEILING) * step
    surplus = (billed - exact) / unit
    if not surplus:
        return
    excl = surplus * component.price
    lines.append(
        last._replace(
            kind=LineKind.STEP,
            volume=surplus,
            excl_vat=excl,
            incl_vat=_incl(excl, component.vat_factor),
        )
    )


#: How far a CDR's volume total may be from what its periods carry (kWh, hours: 3.6 s) before we say so.
VOLUME_TOLERANCE = Decimal("0.001")


def period_volumes(cdr: Cdr) -> dict[str, Decimal]:
    """What the charging periods carry, keyed like the CDR's totals: total_energy (kWh), total_time (hours,
    charging and parking: the CDR's total_time includes parking) and total_parking_time (hours)."""
    energy = time = parking = ZERO
    for p in cdr.charging_periods:
        energy += p.energy
        time += p.time
        parking += p.parking_time
    return {"total_energy": energy, "total_time": time + parking, "total_parking_time": parking}


def _warnings(cdr: Cdr) -> tuple[str, ...]:
    """Volumes that disagree with the CDR's own totals: not an error (we price the periods), but worth a look."""
    notes = []
    carried = period_volumes(cdr)
    for field, unit in (("total_energy", "kWh"), ("total_time", "h"), ("total_parking_time", "h")):
        given = getattr(cdr, field)
        if given is not None and abs(given - carried[field]) > VOLUME_TOLERANCE:
            notes.append(f"{field} {given} {unit}, charging periods carry {carried[field]} {unit}")
    return tuple(notes)


class _Sum:
    __slots__ = ("excl", "incl")

    def __init__(self) -> None:
        self.excl = ZERO
        self.incl: Decimal | None = ZERO

    def add(self, excl: Decimal, incl: Decimal | None) -> None:
        self.excl += excl
        self.incl = None if self.incl is None or incl is None else self.incl + incl


def _totals(
    cdr: Cdr, lines: list[PriceLine], tariff: Tariff, warnings: tuple[str, ...], unsplit: set[str] | None = None
) -> CdrPrice:
    sums = {name: _Sum() for name in ("energy", "time", "parking", "fixed", "reservation")}
    volumes = {ENERGY: ZERO, TIME: ZERO, PARKING: ZERO}
    reservation_hours = ZERO
    for line in lines:
        if line.kind is LineKind.UNPRICED:
            continue
        if line.reservation:
            sums["reservation"].add(line.excl_vat, line.incl_vat)
            if line.dimension is TIME:
                reservation_hours += line.volume
            continue
        if line.dimension is FLAT:
            sums["fixed"].add(line.excl_vat, line.incl_vat)
            continue
        assert line.dimension is not None
        volumes[line.dimension] += line.volume
        key = "energy" if line.dimension is ENERGY else "time" if line.dimension is TIME else "parking"
        sums[key].add(line.excl_vat, line.incl_vat)

    total = _Sum()
    for part in sums.values():
        total.add(part.excl, part.incl)
    excl, incl = total.excl, total.incl
    # min_price first, then max_price: the total never ends above max_price. excl and incl each have their own
    # bound; a bound without incl_vat makes the incl total unknown once it applies.
    for kind, bound in ((LineKind.MIN_PRICE, tariff.min_price), (LineKind.MAX_PRICE, tariff.max_price)):
        if bound is None:
            continue
        below = kind is LineKind.MIN_PRICE
        new_excl = max(excl, bound.excl_vat) if below else min(excl, bound.excl_vat)
        new_incl: Decimal | None = incl
        if incl is not None:
            if bound.incl_vat is not None:
                new_incl = max(incl, bound.incl_vat) if below else min(incl, bound.incl_vat)
            elif new_excl != excl:
                new_incl = None
        if new_excl != excl or new_incl != incl:
            when = cdr.end_date_time
            lines.append(
                PriceLine(
                    kind,
                    None,
                    False,
                    None,
                    tariff.id,
                    None,
                    when,
                    when,
                    ONE,
                    new_excl - excl,
                    None,
                    None,
                    new_excl - excl,
                    None if new_incl is None or incl is None else new_incl - incl,
                )
            )
        excl, incl = new_excl, new_incl

    excl_vat_known = (
        not any(
            line.tariff_id in unsplit and line.vat is None and line.excl_vat and line.kind is not LineKind.UNPRICED
            for line in lines
        )
        if unsplit
        else True
    )
    if not excl_vat_known:
        warnings = (*warnings, "prices incl. taxes without a VAT rate: the amount excl. taxes is unknown")
    unit = minor_unit(cdr.currency)

    def rounded(excl_vat: Decimal, incl_vat: Decimal | None) -> Price:
        return Price(
            excl_vat.quantize(unit, ROUND_HALF_UP),
            None if incl_vat is None else incl_vat.quantize(unit, ROUND_HALF_UP),
        )

    return CdrPrice(
        currency=cdr.currency,
        total=rounded(excl, incl),
        energy=rounded(sums["energy"].excl, sums["energy"].incl),
        time=rounded(sums["time"].excl, sums["time"].incl),
        parking=rounded(sums["parking"].excl, sums["parking"].incl),
        fixed=rounded(sums["fixed"].excl, sums["fixed"].incl),
        reservation=rounded(sums["reservation"].excl, sums["reservation"].incl),
        exact_total=Price(excl, incl),
        energy_kwh=volumes[ENERGY],
        time_hours=volumes[TIME],
        parking_hours=volumes[PARKING],
        reservation_hours=reservation_hours,
        lines=tuple(lines),
        warnings=warnings,
        excl_vat_known=excl_vat_known,
    )
