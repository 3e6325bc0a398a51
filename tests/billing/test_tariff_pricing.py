"""Price components, VAT, step_size, min/max price, rounding per currency, the breakdown, and which tariff
prices a CDR."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from billing.tariffs import LineKind, Price, TariffDimension, TariffInputError, TariffType, price_cdr, select_tariff
from tests.billing.tariffs import (
    build_cdr,
    charge,
    element,
    energy,
    exact,
    flat,
    park,
    parking,
    price,
    reserve,
    tariff,
    time,
    totals,
    utc,
)

D = Decimal
START = "2024-01-08 10:00"


# --- components --------------------------------------------------------------------------------------------


def test_each_component_and_its_category() -> None:
    every = tariff(element(flat(1), energy("0.30"), time(2), parking(4)))
    result = price(every, START, charge(90, 12), park(30))
    assert result.fixed.excl_vat == D("1.00")
    assert result.energy.excl_vat == D("3.60")
    assert result.time.excl_vat == D("3.00")
    assert result.parking.excl_vat == D("2.00")
    assert result.total.excl_vat == D("9.60")
    assert (result.energy_kwh, result.time_hours, result.parking_hours) == (12, D("1.5"), D("0.5"))


def test_no_matching_element_means_free() -> None:
    result = price(tariff(element(energy(1), start_time="20:00", end_time="22:00")), START, charge(60, 10))
    assert result.total.excl_vat == 0
    assert [(line.kind, line.dimension) for line in result.lines] == [
        (LineKind.UNPRICED, TariffDimension.ENERGY),
        (LineKind.UNPRICED, TariffDimension.TIME),
    ]


# --- VAT ---------------------------------------------------------------------------------------------------


def test_vat_per_component() -> None:
    result = price(tariff(element(flat(1, vat=20), energy(1, vat=10))), START, charge(60, 10))
    assert totals(result) == ("11.00", "12.20")


def test_vat_absent_means_incl_unknown_and_zero_means_zero() -> None:
    unknown = price(tariff(element(flat(1, vat=20), energy(1))), START, charge(60, 10))
    assert unknown.total.incl_vat is None
    assert unknown.fixed.incl_vat == D("1.20")  # categories whose VAT is known still say so
    assert unknown.energy.incl_vat is None
    zero = price(tariff(element(energy(1, vat=0))), START, charge(60, 10))
    assert totals(zero) == ("10.00", "10.00")


# --- step_size ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "billed_wh", "cost"),
    [(1, 116, "0.029"), (25, 125, "0.03125"), (500, 500, "0.125")],
)
def test_energy_step_size_in_wh(step: int, billed_wh: int, cost: str) -> None:
    """The spec's own figures: 115.2 Wh at 0.25/kWh."""
    result = price(tariff(element(energy("0.25", step=step))), START, charge(5, "0.1152"))
    assert result.energy_kwh * 1000 == billed_wh
    assert exact(result)[0] == D(cost)


def test_energy_step_applies_once_to_the_session_total_at_the_last_price() -> None:
    """0.20 before 17:00, 0.27 after, step 500 Wh: 4.3 + 1.1 kWh is billed as 5.5, the after-17:00 part as 1.2."""
    day = tariff(
        element(energy("0.20", step=500), end_time="17:00"),
        element(energy("0.27", step=500), start_time="17:00"),
    )
    result = price(day, "2024-01-08 16:00", charge(60, "4.3"), charge(60, "1.1"))
    assert result.energy_kwh == D("5.5")
    assert exact(result)[0] == D("4.3") * D("0.20") + D("1.2") * D("0.27")
    step = [line for line in result.lines if line.kind is LineKind.STEP]
    assert [(line.element, line.volume) for line in step] == [(1, D("0.1"))]


def test_time_step_applies_once_with_the_last_components_step() -> None:
    """5/h then 7/h, step 10 min: 6 + 22 minutes is billed as 30, the surplus at 7/h."""
    day = tariff(
        element(time(5, step=600), end_time="17:00"),
        element(time(7, step=600), start_time="17:00"),
    )
    result = price(day, "2024-01-08 16:54", charge(28))
    assert result.time_hours == D("0.5")
    assert exact(result)[0] == D("0.5") + D("2.8")


def test_only_parking_is_rounded_when_it_comes_last() -> None:
    """1/h charging, 2/h parking, step 10 min: 21 min charging (not rounded) + 16 parking billed as 20."""
    both = tariff(element(time(1, step=600), parking(2, step=600)))
    result = price(both, START, charge(21), park(16))
    assert (result.time_hours * 60, result.parking_hours * 60) == (21, 20)
    five = tariff(element(time(1, step=300), parking(2, step=300)))
    result = price(five, START, charge(21), park(7))
    assert (result.time_hours * 60, result.parking_hours * 60) == (21, 10)


def test_charging_is_rounded_when_parking_is_free() -> None:
    result = price(tariff(element(time(6, step=900))), START, charge(20), park(20))
    assert result.time_hours * 60 == 30
    assert result.total.excl_vat == 3


def test_time_volumes_are_counted_in_whole_seconds_before_the_step() -> None:
    """10 minutes as OCPI sends it, 0.1667 h (600.12 s), with a 60 s step is 10 minutes, not 11."""
    cdr = build_cdr(START, charge(10), tariffs=tariff(element(time(6, step=60))))
    period = replace(cdr.charging_periods[0], time=D("0.1667"))
    assert price_cdr(replace(cdr, charging_periods=(period,))).total.excl_vat == D("1.00")


def test_reservation_time_has_its_own_step() -> None:
    both = tariff(element(time(6, step=900), reservation="RESERVATION"), element(time(1, step=60)))
    result = price(both, START, reserve(5), charge(61))
    assert (result.reservation_hours, result.time_hours) == (D("0.25"), D(61) / 60)


# --- min and max price -------------------------------------------------------------------------------------


def test_min_and_max_price_apply_to_excl_and_incl_separately() -> None:
    """Mixed VAT: the excl total is under the cap while incl is over it, so only incl is capped."""
    capped = tariff(
        element(flat(5, vat=0), energy(1, vat=25)),
        max_price={"excl_vat": 10, "incl_vat": 11},
    )
    result = price(capped, START, charge(60, 4))  # 9.00 excl, 10.00 incl
    assert totals(result) == ("9.00", "10.00")
    result = price(capped, START, charge(60, "4.8"))  # 9.80 excl, 11.00 incl
    assert totals(result) == ("9.80", "11.00")
    result = price(capped, START, charge(60, "4.9"))  # 9.90 excl, 11.125 incl
    assert totals(result) == ("9.90", "11.00")


def test_min_price_without_incl_vat_makes_incl_unknown_when_it_applies() -> None:
    floor = tariff(element(energy(1, vat=20)), min_price={"excl_vat": 5})
    assert totals(price(floor, START, charge(60, 10))) == ("10.00", "12.00")
    assert totals(price(floor, START, charge(60, 1))) == ("5.00", None)


def test_breakdown_lines_add_up_to_the_exact_total() -> None:
    capped = tariff(element(flat(2, vat=20), energy("0.3", vat=20)), max_price={"excl_vat": 5, "incl_vat": 6})
    result = price(capped, START, charge(60, 20), park(60))
    assert sum(line.excl_vat for line in result.lines) == result.exact_total.excl_vat == 5
    assert sum(line.incl_vat or 0 for line in result.lines) == result.exact_total.incl_vat == 6


# --- rounding ----------------------------------------------------------------------------------------------


def test_rounding_is_half_up_to_the_minor_unit_at_the_end_only() -> None:
    """Three parts of 0.0025 each would round to 0.00 one by one; rounded at the end they are 0.0075 = 0.01."""
    result = price(tariff(element(energy("0.25"))), START, charge(1, "0.01"), charge(1, "0.01"), charge(1, "0.01"))
    assert exact(result)[0] == D("0.0075")
    assert result.total.excl_vat == D("0.01")
    assert price(tariff(element(energy("0.25"))), START, charge(1, "0.5")).total.excl_vat == D("0.13")  # 0.125


@pytest.mark.parametrize(("currency", "expected"), [("JPY", "13"), ("KWD", "12.500"), ("EUR", "12.50")])
def test_currencies_round_to_their_own_minor_unit(currency: str, expected: str) -> None:
    result = price(tariff(element(energy("1.25")), currency=currency), START, charge(60, 10), currency=currency)
    assert str(result.total.excl_vat) == expected


# --- which tariff ------------------------------------------------------------------------------------------


def test_tariffs_in_the_cdr_take_precedence_over_ours() -> None:
    theirs = tariff(element(energy(1)), tariff_id="A")
    ours = tariff(element(energy(9)), tariff_id="A")
    cdr = build_cdr(START, charge(60, 10, tariff_id="A"), tariffs=theirs)
    assert price_cdr(cdr, available=[ours]).total.excl_vat == 10
    assert select_tariff("A", [theirs], [ours]) is theirs


def test_periods_name_their_tariff() -> None:
    cheap = tariff(element(energy(1)), tariff_id="CHEAP", type="PROFILE_CHEAP")
    fast = tariff(element(energy(2)), tariff_id="FAST", type="PROFILE_FAST")
    cdr = build_cdr(START, charge(60, 10, tariff_id="CHEAP"), charge(60, 10, tariff_id="FAST"))
    assert price_cdr(cdr, available=[cheap, fast]).total.excl_vat == 30


def test_a_period_naming_no_tariff_gets_the_only_one_or_the_regular_one() -> None:
    only = tariff(element(energy(1)))
    assert select_tariff(None, [], [only]) is only
    regular = tariff(element(energy(1)), tariff_id="R", type="REGULAR")
    ad_hoc = tariff(element(energy(2)), tariff_id="H", type="AD_HOC_PAYMENT")
    untyped = tariff(element(energy(3)), tariff_id="U")
    assert select_tariff(None, [], [ad_hoc, regular, untyped]) is regular
    assert select_tariff(None, [], [ad_hoc, untyped]) is untyped
    green = tariff(element(energy(4)), tariff_id="G", type="PROFILE_GREEN")
    assert select_tariff(None, [], [regular, green], tariff_type=TariffType.PROFILE_GREEN) is green


def test_tariff_choice_respects_validity_dates() -> None:
    old = tariff(element(energy(1)), tariff_id="OLD", type="REGULAR", end_date_time="2024-01-01T00:00:00Z")
    new = tariff(element(energy(2)), tariff_id="NEW", type="REGULAR", start_date_time="2024-01-01T00:00:00Z")
    assert select_tariff(None, [], [old, new], at=utc("2023-12-31 23:59")) is old
    assert select_tariff(None, [], [old, new], at=utc("2024-01-01 00:00")) is new


def test_tariff_choice_errors_name_the_field() -> None:
    one, two = tariff(element(energy(1)), tariff_id="1"), tariff(element(energy(2)), tariff_id="2")
    with pytest.raises(TariffInputError, match=r"charging_periods\[0\]\.tariff_id: missing, and 2 tariffs"):
        price_cdr(build_cdr(START, charge(60, 10)), available=[one, two])
    with pytest.raises(TariffInputError, match=r"charging_periods\[0\]\.tariff_id: no tariff 'X'"):
        price_cdr(build_cdr(START, charge(60, 10, tariff_id="X")), available=[one])
    with pytest.raises(TariffInputError, match="no tariff to price with"):
        price_cdr(build_cdr(START, charge(60, 10)))


def test_tariff_in_another_currency_is_refused() -> None:
    dollars = tariff(element(energy(1)), currency="USD")
    with pytest.raises(TariffInputError, match="is in USD, the CDR in EUR"):
        price_cdr(build_cdr(START, charge(60, 10), tariffs=dollars))


def test_min_and_max_price_come_from_the_first_periods_tariff() -> None:
    first = tariff(element(energy(1)), tariff_id="A", max_price={"excl_vat": 3})
    second = tariff(element(energy(1)), tariff_id="B", max_price={"excl_vat": 100})
    cdr = build_cdr(START, charge(60, 5, tariff_id="A"), charge(60, 5, tariff_id="B"))
    assert price_cdr(cdr, available=[first, second]).total.excl_vat == 3


# --- the breakdown and warnings ----------------------------------------------------------------------------


def test_breakdown_says_which_element_priced_which_part() -> None:
    peak = tariff(element(energy("0.40"), start_time="17:00", end_time="20:00"), element(energy("0.20"), flat(1)))
    result = price(peak, "2024-01-08 16:30", charge(60, 10))
    lines = [
        (line.kind, line.dimension, line.element, line.start, line.volume, line.excl_vat)
        for line in result.lines
        if line.kind is not LineKind.UNPRICED  # the charging time: this tariff has no TIME component
    ]
    half = utc("2024-01-08 16:30")
    assert lines == [
        (LineKind.VOLUME, TariffDimension.ENERGY, 1, half, 5, D("1.00")),
        (LineKind.FLAT, TariffDimension.FLAT, 1, half, 1, 1),
        (LineKind.VOLUME, TariffDimension.ENERGY, 0, half + timedelta(minutes=30), 5, D("2.00")),
    ]


def test_warning_when_volumes_disagree_with_the_cdrs_totals() -> None:
    result = price(tariff(element(energy(1))), START, charge(60, 10), total_energy=D("12"), total_time=D(1))
    assert result.warnings == ("total_energy 12 kWh, charging periods carry 10 kWh",)


def test_price_type_is_plain() -> None:
    assert Price(D(1)) == Price(excl_vat=D(1), incl_vat=None)


def test_the_spec_step_rule_can_make_a_longer_session_cheaper() -> None:
    """Documented in docs/billing.md: the step and price of the *last* component round the whole time."""
    two = tariff(
        element(time("1.20", step=1800), end_time="10:30"),
        element(time("0.01", step=1)),
    )
    assert price(two, "2024-01-08 10:01", charge(29)).total.excl_vat == D("0.60")
    assert price(two, "2024-01-08 10:01", charge(30)).total.excl_vat == D("0.58")


def test_zero_length_periods_and_sessions() -> None:
    """A period that lasts no time is judged at its instant; a session of no time still gets its start fee."""
    peak = tariff(element(energy(1), start_time="17:00", end_time="18:00"), element(energy(0), flat(2)))
    assert price(peak, "2024-01-08 16:00", charge(60), charge(0, 3), charge(60)).energy.excl_vat == 3
    assert price(peak, "2024-01-08 12:00", charge(0, 0)).total.excl_vat == 2
