"""Every tariff restriction, periods cut where a restriction switches, local time across midnight, the week's
end and both daylight-saving changes in Europe/Amsterdam."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.tariffs import CdrPrice, LineKind, Tariff, TariffDimension
from tests.billing.tariffs import charge, element, energy, flat, park, parking, price, reserve, tariff, time, utc

D = Decimal
AMSTERDAM = "Europe/Amsterdam"


def hourly(*restricted: dict[str, Any], fallback: str = "1") -> Tariff:
    """A TIME tariff: the restricted elements first, then TIME at `fallback` per hour for all other moments."""
    return tariff(*restricted, element(time(fallback)))


def priced_time_lines(result: CdrPrice) -> list[tuple[str, str, int | None, Decimal]]:
    """(start HH:MM UTC, end HH:MM UTC, element, hours) of each priced TIME line."""
    return [
        (line.start.strftime("%H:%M"), line.end.strftime("%H:%M"), line.element, line.volume)
        for line in result.lines
        if line.dimension is TariffDimension.TIME and line.kind is LineKind.VOLUME
    ]


# --- time of day -------------------------------------------------------------------------------------------


def test_time_window_cuts_a_period_where_it_opens_and_closes() -> None:
    peak = hourly(element(time(10), start_time="17:00", end_time="19:00"))
    result = price(peak, "2024-01-08 16:00", charge(240))  # 16:00 to 20:00 in one period
    assert result.total.excl_vat == D("22.00")  # 1 h + 2 h x 10 + 1 h
    assert priced_time_lines(result) == [
        ("16:00", "17:00", 1, 1),
        ("17:00", "19:00", 0, 2),
        ("19:00", "20:00", 1, 1),
    ]


def test_start_time_is_inclusive_and_end_time_exclusive() -> None:
    peak = hourly(element(time(10), start_time="17:00", end_time="18:00"))
    assert price(peak, "2024-01-08 17:00", charge(60)).total.excl_vat == 10
    assert price(peak, "2024-01-08 18:00", charge(60)).total.excl_vat == 1
    assert price(peak, "2024-01-08 16:00", charge(60)).total.excl_vat == 1


def test_window_wrapping_midnight() -> None:
    night = hourly(element(time(10), start_time="22:00", end_time="06:00"))
    assert price(night, "2024-01-08 20:00", charge(12 * 60)).total.excl_vat == D("84.00")  # 2 + 8 x 10 + 2


def test_end_time_midnight_is_the_end_of_the_day() -> None:
    evening = hourly(element(time(10), start_time="20:00", end_time="00:00"))
    assert price(evening, "2024-01-08 19:00", charge(6 * 60)).total.excl_vat == D("42.00")  # 1 + 4 x 10 + 1


def test_only_a_start_or_only_an_end_time() -> None:
    from_noon = hourly(element(time(10), start_time="12:00"))
    until_noon = hourly(element(time(10), end_time="12:00"))
    assert price(from_noon, "2024-01-08 11:00", charge(120)).total.excl_vat == 11
    assert price(until_noon, "2024-01-08 11:00", charge(120)).total.excl_vat == 11


def test_restriction_times_are_local_time() -> None:
    """17:00 in Amsterdam in January is 16:00 UTC."""
    peak = hourly(element(time(10), start_time="17:00", end_time="18:00"))
    result = price(peak, "2024-01-08 16:00", charge(60), zone=AMSTERDAM)
    assert result.total.excl_vat == 10
    assert price(peak, "2024-07-08 15:00", charge(60), zone=AMSTERDAM).total.excl_vat == 10  # summer: UTC+2


# --- dates and days ----------------------------------------------------------------------------------------


def test_start_date_inclusive_end_date_exclusive() -> None:
    january = hourly(element(time(10), start_date="2024-01-09", end_date="2024-01-10"))
    result = price(january, "2024-01-08 22:00", charge(28 * 60))  # Jan 8 22:00 to Jan 10 02:00
    assert result.total.excl_vat == D("2") + D("240") + D("2")


def test_dates_are_local_dates() -> None:
    new_year = hourly(element(time(10), start_date="2025-01-01"))
    # 23:00 UTC on 31 December is already 1 January in Amsterdam.
    assert price(new_year, "2024-12-31 23:00", charge(60), zone=AMSTERDAM).total.excl_vat == 10
    assert price(new_year, "2024-12-31 23:00", charge(60)).total.excl_vat == 1


def test_day_of_week() -> None:
    weekend = hourly(element(time(10), day_of_week=["SATURDAY", "SUNDAY"]))
    assert price(weekend, "2024-01-13 10:00", charge(60)).total.excl_vat == 10  # a Saturday
    assert price(weekend, "2024-01-12 10:00", charge(60)).total.excl_vat == 1  # a Friday


def test_session_over_the_week_boundary() -> None:
    """Sunday 23:00 to Monday 01:00 local: Sunday's hour at the weekend price, Monday's at the weekday price."""
    days = tariff(
        element(time(5), day_of_week=["SATURDAY", "SUNDAY"]),
        element(time(2), day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]),
    )
    result = price(days, "2024-01-14 22:00", charge(120), zone=AMSTERDAM)
    assert result.total.excl_vat == 7
    assert priced_time_lines(result) == [("22:00", "23:00", 0, 1), ("23:00", "00:00", 1, 1)]


def test_wrapping_window_is_judged_by_the_day_it_is_now() -> None:
    """A Friday-night window 22:00-06:00: Saturday 02:00 is a Saturday, so the Friday restriction does not hold."""
    friday_night = hourly(element(time(10), start_time="22:00", end_time="06:00", day_of_week=["FRIDAY"]))
    assert price(friday_night, "2024-01-12 22:00", charge(4 * 60)).total.excl_vat == D("22")  # 2 x 10 + 2 x 1


# --- energy, current, power, duration ----------------------------------------------------------------------


def test_min_kwh_and_max_kwh_cut_a_period_where_the_total_crosses() -> None:
    tiers = tariff(
        element(energy("0.50"), max_kwh=10),
        element(energy("0.30"), min_kwh=10, max_kwh=20),
        element(energy("0.10")),
    )
    result = price(tiers, "2024-01-08 10:00", charge(60, 15), charge(60, 15))
    assert result.total.excl_vat == D("5.00") + D("3.00") + D("1.00")
    cut = [line for line in result.lines if line.kind is LineKind.VOLUME]
    assert [(line.element, line.volume) for line in cut] == [(0, 10), (1, 5), (1, 5), (2, 10)]
    assert cut[0].end == utc("2024-01-08 10:40")  # 10 of the period's 15 kWh, evenly spread: 40 minutes in


def test_min_kwh_inclusive_max_kwh_exclusive() -> None:
    tiers = tariff(element(energy(1), min_kwh=5), element(energy(0)))
    # The second period starts exactly at 5 kWh: it is priced by the min_kwh element.
    assert price(tiers, "2024-01-08 10:00", charge(30, 5), charge(30, 1)).total.excl_vat == 1
    below = tariff(element(energy(1), max_kwh=5), element(energy(0)))
    assert price(below, "2024-01-08 10:00", charge(30, 5), charge(30, 1)).total.excl_vat == 5


def test_kwh_restriction_on_time_components() -> None:
    """Time is cheap while the first 10 kWh flow, dear after: the cut is where 10 kWh is reached."""
    result = price(tariff(element(time(1), max_kwh=10), element(time(4))), "2024-01-08 10:00", charge(120, 20))
    assert result.total.excl_vat == D("1") + D("4")


def test_min_and_max_current_use_the_periods_values() -> None:
    amps = tariff(element(time(1), max_current=32), element(time(3), min_current=32))
    assert price(amps, "2024-01-08 10:00", charge(60, max_current=16)).total.excl_vat == 1
    assert price(amps, "2024-01-08 10:00", charge(60, max_current=32)).total.excl_vat == 3
    assert price(amps, "2024-01-08 10:00", charge(60, min_current=40)).total.excl_vat == 3


def test_current_straddling_a_limit_uses_the_periods_maximum() -> None:
    """A period the CPO should have cut (10 A to 40 A around a 32 A limit) is judged by its maximum."""
    amps = tariff(element(time(1), max_current=32), element(time(3), min_current=32))
    assert price(amps, "2024-01-08 10:00", charge(60, min_current=10, max_current=40)).total.excl_vat == 3


def test_current_restriction_without_a_current_does_not_hold() -> None:
    amps = tariff(element(time(3), min_current=32), element(time(1)))
    assert price(amps, "2024-01-08 10:00", charge(60)).total.excl_vat == 1


def test_min_and_max_power() -> None:
    kw = tariff(element(energy("0.20"), max_power=22), element(energy("0.60"), min_power=22))
    assert price(kw, "2024-01-08 10:00", charge(60, 11, max_power=11)).total.excl_vat == D("2.20")
    assert price(kw, "2024-01-08 10:00", charge(60, 22, max_power=22)).total.excl_vat == D("13.20")
    assert price(kw, "2024-01-08 10:00", charge(60, 22, min_power=50)).total.excl_vat == D("13.20")


def test_power_without_a_dimension_is_the_average_while_charging() -> None:
    kw = tariff(element(energy("0.20"), max_power=22), element(energy("0.60")))
    assert price(kw, "2024-01-08 10:00", charge(60, 11)).total.excl_vat == D("2.20")  # 11 kW
    assert price(kw, "2024-01-08 10:00", charge(30, 25)).total.excl_vat == D("15.00")  # 50 kW


def test_min_and_max_duration_cut_inside_a_period() -> None:
    """Duration counts from the start of charging; min inclusive, max exclusive."""
    by_age = tariff(
        element(time(0), max_duration=1800),
        element(time(2), min_duration=1800, max_duration=5400),
        element(time(6)),
    )
    result = price(by_age, "2024-01-08 10:00", charge(120))
    assert result.total.excl_vat == D("0") + D("2") + D("3")
    assert [line.element for line in result.lines if line.kind is LineKind.VOLUME] == [0, 1, 2]


def test_duration_counts_from_the_start_of_charging_not_of_the_reservation() -> None:
    idle_fee = tariff(element(parking(6), min_duration=3600), element(parking(0)))
    result = price(idle_fee, "2024-01-08 10:00", reserve(30), charge(30), park(60))
    assert result.parking.excl_vat == D("3.00")  # parking from 30 to 90 minutes after charging began


# --- reservation -------------------------------------------------------------------------------------------


def test_reservation_elements_only_price_the_reservation() -> None:
    reserved = tariff(
        element(time(6), reservation="RESERVATION"),
        element(time(1)),
    )
    result = price(reserved, "2024-01-08 10:00", reserve(30), charge(60))
    assert (result.reservation.excl_vat, result.time.excl_vat) == (D("3.00"), D("1.00"))
    assert result.reservation_hours == D("0.5")


def test_reservation_without_reservation_elements_is_free() -> None:
    result = price(tariff(element(time(1))), "2024-01-08 10:00", reserve(30), charge(60))
    assert result.total.excl_vat == 1
    assert any(line.kind is LineKind.UNPRICED and line.reservation for line in result.lines)


def test_expired_reservation_prefers_the_first_matching_element() -> None:
    """Expired: RESERVATION_EXPIRES and RESERVATION elements both apply, the first in the list wins."""
    both = tariff(
        element(time(2), reservation="RESERVATION"),
        element(time(9), flat(1), reservation="RESERVATION_EXPIRES"),
        element(time(1)),
    )
    expired = price(both, "2024-01-08 10:00", reserve(60))
    assert expired.total.excl_vat == D("3")  # TIME from the RESERVATION element, FLAT from the EXPIRES one
    used = price(both, "2024-01-08 10:00", reserve(60), charge(60))
    assert used.total.excl_vat == D("2") + D("1")  # the EXPIRES element's fee is not due


# --- local time on the days the clocks change --------------------------------------------------------------


def test_spring_forward_night_window() -> None:
    """31 March 2024, Amsterdam: 02:00 CET becomes 03:00 CEST. 00:00 to 09:00 local is 8 real hours, of which
    6 in the 23:00-07:00 night window."""
    night = tariff(element(time(1), start_time="23:00", end_time="07:00"), element(time(3)))
    result = price(night, "2024-03-30 23:00", charge(8 * 60), zone=AMSTERDAM)
    assert result.total.excl_vat == D("6") + D("6")
    assert priced_time_lines(result)[-1][:2] == ("05:00", "07:00")  # 07:00 CEST is 05:00 UTC


def test_spring_forward_window_opening_in_the_missing_hour() -> None:
    """A window from 02:30, which does not exist that night, opens when the clock jumps to 03:00 (01:00 UTC)."""
    early = tariff(element(time(10), start_time="02:30", end_time="05:00"), element(time(1)))
    result = price(early, "2024-03-30 23:00", charge(5 * 60), zone=AMSTERDAM)
    assert result.total.excl_vat == D("20") + D("3")  # 01:00-03:00 UTC at 10, the other 3 hours at 1


def test_fall_back_hour_happens_twice() -> None:
    """27 October 2024: 03:00 CEST becomes 02:00 CET, so 02:00-03:00 local lasts two real hours."""
    window = tariff(element(time(10), start_time="02:00", end_time="03:00"), element(time(1)))
    result = price(window, "2024-10-26 22:00", charge(6 * 60), zone=AMSTERDAM)
    assert result.total.excl_vat == D("20") + D("4")
    assert priced_time_lines(result) == [
        ("22:00", "00:00", 1, 2),
        ("00:00", "02:00", 0, 2),  # 02:00-03:00 CEST then 02:00-03:00 CET, one line
        ("02:00", "04:00", 1, 2),
    ]


def test_fall_back_day_is_25_hours_long() -> None:
    """A day_of_week restriction on that Sunday covers its 25 real hours."""
    sunday = tariff(element(time(2), day_of_week=["SUNDAY"]), element(time(1)))
    result = price(sunday, "2024-10-26 21:00", charge(27 * 60), zone=AMSTERDAM)
    # Saturday 23:00-00:00 (1 h), Sunday (25 h), Monday 00:00-01:00 (1 h).
    assert result.total.excl_vat == D("1") + D("50") + D("1")


def test_spring_forward_day_is_23_hours_long() -> None:
    sunday = tariff(element(time(2), day_of_week=["SUNDAY"]), element(time(1)))
    result = price(sunday, "2024-03-30 22:00", charge(25 * 60), zone=AMSTERDAM)
    # Saturday 23:00-00:00 (1 h), Sunday (23 h), Monday 00:00-01:00 (1 h).
    assert result.total.excl_vat == D("1") + D("46") + D("1")


@pytest.mark.parametrize("zone", ["UTC", AMSTERDAM, "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_a_whole_day_window_prices_every_moment(zone: str) -> None:
    """00:00-00:00 covers the whole day in any zone, including half-hour offsets and odd DST rules."""
    always = tariff(element(time(1), start_time="00:00", end_time="00:00"))
    assert price(always, "2024-04-06 10:00", charge(48 * 60), zone=zone).total.excl_vat == 48


# --- FLAT and restrictions ---------------------------------------------------------------------------------


def test_flat_with_a_restriction_is_billed_once_it_holds() -> None:
    """A start fee only for sessions past 0.5 kWh (a pattern to spare failed sessions)."""
    fee = tariff(element(flat(1), min_kwh=D("0.5")), element(energy("0.30")))
    assert price(fee, "2024-01-08 10:00", charge(1, "0.1")).fixed.excl_vat == 0
    assert price(fee, "2024-01-08 10:00", charge(60, 10)).fixed.excl_vat == 1


def test_flat_is_billed_once_per_element_that_was_active() -> None:
    """Each element whose FLAT was the active one at some moment bills it once, however many periods."""
    day_night = tariff(element(flat(1), start_time="07:00", end_time="19:00"), element(flat("0.5")))
    assert price(day_night, "2024-01-08 10:00", charge(60), charge(60), charge(60)).fixed.excl_vat == 1
    assert price(day_night, "2024-01-08 18:00", charge(120)).fixed.excl_vat == D("1.5")


def test_dimensions_are_looked_up_separately() -> None:
    """The first element with an ENERGY component prices energy even if an earlier element prices time."""
    mixed = tariff(element(time(2)), element(energy("0.25"), time(99)))
    result = price(mixed, "2024-01-08 10:00", charge(60, 10))
    assert (result.time.excl_vat, result.energy.excl_vat) == (D("2.00"), D("2.50"))
