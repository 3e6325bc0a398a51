"""Invariants of the tariff engine, checked with hypothesis on generated tariffs and sessions.

- Cutting a charging period in two at any instant (volumes shared in proportion) changes nothing.
- Without max_price a longer session, or one with more energy, never costs less.
- incl. VAT is never below excl. VAT, in the total and in every category.

The monotonicity properties hold only where the spec's rules allow them, so the generator respects that:
step_size 1 for them (with a bigger step, a session that runs into a cheaper component with a smaller step can
cost less: the surplus moves to the cheaper price, see docs/billing.md), and energy priced by kWh tiers only
(an element mixing kWh with a time window lets more energy early make later energy cheaper). Volumes are whole
seconds and whole Wh, as meters report them. Examples are bounded and derandomized: the suite stays fast and
never flaky.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.tariffs import Cdr, CdrPrice, ChargingPeriod, Tariff, price_cdr
from billing.tariffs.ocpi_json import tariff_from_ocpi

D = Decimal
HOUR = D(3600)
TOLERANCE = D("1e-9")
BOUNDED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
# Around both of Amsterdam's 2024 clock changes, and anywhere in the year.
DST_STARTS = [datetime(2024, 3, 30, 20, tzinfo=UTC), datetime(2024, 10, 26, 20, tzinfo=UTC)]

prices = st.decimals(min_value=0, max_value=5, places=2)
vats = st.one_of(st.none(), st.sampled_from([D(0), D(6), D("5.2"), D(21)]))
quarter_hours = st.integers(0, 95).map(lambda q: f"{q // 4:02d}:{q % 4 * 15:02d}")


def component(kind: str, draw: Any, step: int) -> dict[str, Any]:
    data = {"type": kind, "price": draw(prices), "step_size": step}
    vat = draw(vats)
    if vat is not None:
        data["vat"] = vat
    return data


@st.composite
def moment_restrictions(draw: Any) -> dict[str, Any]:
    """Restrictions on when (time, day, duration) and how fast (power); never on kWh."""
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["start_time"], r["end_time"] = draw(quarter_hours), draw(quarter_hours)
    if draw(st.booleans()):
        r["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=6, unique=True))
    if draw(st.booleans()):
        low, high = sorted(draw(st.lists(st.integers(0, 24), min_size=2, max_size=2)))
        r["min_duration"], r["max_duration"] = low * 300, high * 300 + 300
    if draw(st.booleans()):
        r["max_power" if draw(st.booleans()) else "min_power"] = draw(st.sampled_from([D(11), D(22), D(50)]))
    return r


@st.composite
def tariffs(draw: Any, *, steps_of_one: bool, energy_windows: bool, limits: bool) -> Tariff:
    """Energy elements (kWh tiers, maybe time windows), elements for TIME/PARKING_TIME/FLAT restricted in time,
    day, duration or power, in any order, then an unrestricted element pricing every dimension."""

    def step(choices: list[int]) -> int:
        return 1 if steps_of_one else draw(st.sampled_from(choices))

    elements = []
    for _ in range(draw(st.integers(0, 2))):
        r: dict[str, Any] = {}
        if draw(st.booleans()):
            low, high = sorted(draw(st.lists(st.integers(0, 60), min_size=2, max_size=2)))
            r["min_kwh"], r["max_kwh"] = D(low), D(high + 1)
        if energy_windows and draw(st.booleans()):
            r["start_time"], r["end_time"] = draw(quarter_hours), draw(quarter_hours)
        elements.append({"price_components": [component("ENERGY", draw, step([1, 100, 500]))], "restrictions": r})
    for _ in range(draw(st.integers(0, 3))):
        kinds = draw(st.lists(st.sampled_from(["TIME", "PARKING_TIME", "FLAT"]), min_size=1, max_size=3, unique=True))
        elements.append(
            {
                "price_components": [component(kind, draw, step([1, 60, 300, 900])) for kind in kinds],
                "restrictions": draw(moment_restrictions()),
            }
        )
    elements = list(draw(st.permutations(elements)))
    fallback = [component(kind, draw, step([1, 60, 900])) for kind in ("ENERGY", "TIME", "PARKING_TIME")]
    if draw(st.booleans()):
        fallback.append(component("FLAT", draw, 1))
    elements.append({"price_components": fallback})
    data: dict[str, Any] = {"id": "T", "currency": "EUR", "elements": elements}
    if limits and draw(st.booleans()):
        low = draw(st.decimals(min_value=0, max_value=20, places=2))
        data["min_price"] = {"excl_vat": low, "incl_vat": low * D("1.21")}
    if limits and draw(st.booleans()):
        high = draw(st.decimals(min_value=25, max_value=80, places=2))  # incl. VAT above any min_price's
        data["max_price"] = {"excl_vat": high, "incl_vat": high * D("1.1")}
    return tariff_from_ocpi(data)


@dataclass(frozen=True)
class Step:
    kind: str  # "charge" or "park"
    seconds: int
    wh_per_second: int  # 0 to 14 Wh/s: up to about 50 kW
    power: Decimal


@dataclass(frozen=True)
class Session:
    start: datetime
    zone: str
    steps: tuple[Step, ...]


steps = st.builds(
    Step,
    kind=st.sampled_from(["charge", "charge", "park"]),
    seconds=st.integers(0, 3 * 3600),
    wh_per_second=st.integers(0, 14),
    power=st.sampled_from([D(7), D(11), D(22), D(50)]),
)
starts = st.one_of(
    st.integers(0, 366 * 86400).map(lambda s: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=s)),
    st.tuples(st.sampled_from(DST_STARTS), st.integers(0, 8 * 3600)).map(lambda t: t[0] + timedelta(seconds=t[1])),
)
sessions = st.builds(
    Session,
    start=starts,
    zone=st.sampled_from(["UTC", "Europe/Amsterdam", "America/New_York"]),
    steps=st.lists(steps, min_size=1, max_size=6).map(tuple),
)


def to_cdr(session: Session, tariff: Tariff) -> Cdr:
    periods = []
    at = session.start
    for step in session.steps:
        hours = D(step.seconds) / HOUR
        charging = step.kind == "charge"
        periods.append(
            ChargingPeriod(
                start_date_time=at,
                energy=D(step.wh_per_second * step.seconds) / 1000 if charging else D(0),
                time=hours if charging else D(0),
                parking_time=D(0) if charging else hours,
                max_power=step.power,
            )
        )
        at += timedelta(seconds=step.seconds)
    return Cdr(
        start_date_time=session.start,
        end_date_time=at,
        currency="EUR",
        charging_periods=tuple(periods),
        tariffs=(tariff,),
    )


def priced(cdr: Cdr, session: Session) -> CdrPrice:
    return price_cdr(cdr, time_zone=session.zone)


def no_less(after: CdrPrice, before: CdrPrice) -> None:
    assert after.exact_total.excl_vat >= before.exact_total.excl_vat - TOLERANCE
    if after.exact_total.incl_vat is not None and before.exact_total.incl_vat is not None:
        assert after.exact_total.incl_vat >= before.exact_total.incl_vat - TOLERANCE


@BOUNDED
@given(
    tariffs(steps_of_one=False, energy_windows=True, limits=True),
    sessions,
    st.data(),
)
def test_cutting_a_period_in_two_changes_nothing(tariff: Tariff, session: Session, data: Any) -> None:
    cdr = to_cdr(session, tariff)
    index = data.draw(st.integers(0, len(cdr.charging_periods) - 1))
    step = session.steps[index]
    if step.seconds < 2:
        return
    cut = data.draw(st.integers(1, step.seconds - 1))
    period = cdr.charging_periods[index]
    share = D(cut) / D(step.seconds)

    def part(volume: Decimal) -> Decimal:
        return volume * share

    first = replace(period, energy=part(period.energy), time=part(period.time), parking_time=part(period.parking_time))
    second = replace(
        period,
        start_date_time=period.start_date_time + timedelta(seconds=cut),
        energy=period.energy - first.energy,
        time=period.time - first.time,
        parking_time=period.parking_time - first.parking_time,
    )
    periods = cdr.charging_periods
    cut_cdr = replace(cdr, charging_periods=(*periods[:index], first, second, *periods[index + 1 :]))

    whole, halves = priced(cdr, session), priced(cut_cdr, session)
    assert abs(whole.exact_total.excl_vat - halves.exact_total.excl_vat) < TOLERANCE
    if whole.exact_total.incl_vat is None:
        assert halves.exact_total.incl_vat is None
    else:
        assert halves.exact_total.incl_vat is not None
        assert abs(whole.exact_total.incl_vat - halves.exact_total.incl_vat) < TOLERANCE
    assert abs(sum(line.excl_vat for line in halves.lines) - halves.exact_total.excl_vat) < TOLERANCE


@BOUNDED
@given(
    tariffs(steps_of_one=True, energy_windows=True, limits=False),
    sessions,
    st.integers(1, 4 * 3600),
    st.booleans(),
)
def test_a_longer_session_never_costs_less(tariff: Tariff, session: Session, extra: int, new_period: bool) -> None:
    if new_period:
        longer = replace(session, steps=(*session.steps, Step("park", extra, 0, D(0))))
    else:
        last = session.steps[-1]
        longer = replace(session, steps=(*session.steps[:-1], replace(last, seconds=last.seconds + extra)))
    no_less(priced(to_cdr(longer, tariff), longer), priced(to_cdr(session, tariff), session))


@BOUNDED
@given(
    tariffs(steps_of_one=True, energy_windows=False, limits=False),
    sessions,
    st.data(),
)
def test_a_fuller_session_never_costs_less(tariff: Tariff, session: Session, data: Any) -> None:
    index = data.draw(st.integers(0, len(session.steps) - 1))
    step = session.steps[index]
    fuller_step = replace(step, kind="charge", wh_per_second=step.wh_per_second + data.draw(st.integers(1, 5)))
    if step.kind != "charge":
        return
    fuller = replace(session, steps=(*session.steps[:index], fuller_step, *session.steps[index + 1 :]))
    no_less(priced(to_cdr(fuller, tariff), fuller), priced(to_cdr(session, tariff), session))


@BOUNDED
@given(tariffs(steps_of_one=False, energy_windows=True, limits=True), sessions)
def test_incl_vat_is_never_below_excl_vat(tariff: Tariff, session: Session) -> None:
    result = priced(to_cdr(session, tariff), session)
    for amount in (result.total, result.energy, result.time, result.parking, result.fixed, result.reservation):
        assert amount.incl_vat is None or amount.incl_vat >= amount.excl_vat
    assert result.exact_total.incl_vat is None or result.exact_total.incl_vat >= result.exact_total.excl_vat
