"""The OCPI 2.2.1 worked examples (shared spec-facts section 4.6) priced with the official example tariffs.

Where the spec's own figures are wrong we test the corrected figure and say so (spec-facts section 7 and the
2.2.1 bugfix branch). Expected totals are rounded to cents, half up; `exact` checks the unrounded figure where
the spec prints more than two decimals.
"""

from __future__ import annotations

from decimal import Decimal

from billing.tariffs import LineKind, TariffDimension, price_cdr
from billing.tariffs.ocpi_json import cdr_from_ocpi
from tests.billing.tariffs import charge, exact, park, price, reserve, spec_tariff, totals
from tests.examples import example

D = Decimal
MONDAY = "2024-01-08 09:30"
SATURDAY = "2024-01-13 13:30"


def test_simple_energy_tariff_8() -> None:
    assert totals(price(spec_tariff("tariff_8_simple_025kwh"), MONDAY, charge(120, 20))) == ("5.00", "5.50")


def test_start_fee_and_energy_tariff_9() -> None:
    assert totals(price(spec_tariff("tariff_9_025kwh_start"), MONDAY, charge(120, 20))) == ("5.50", "6.10")


def test_min_price_tariff_12() -> None:
    tariff = spec_tariff("tariff_12_025kwh_min_price")
    assert totals(price(tariff, MONDAY, charge(120, 20))) == ("5.00", "5.50")
    small = price(tariff, MONDAY, charge(20, "1.5"))
    assert totals(small) == ("0.50", "0.55")
    assert small.lines[-1].kind is LineKind.MIN_PRICE


def test_parking_and_start_fee_tariff_10() -> None:
    result = price(spec_tariff("tariff_10_025kwh_parking_start"), MONDAY, charge(120, 20), park(40))
    assert totals(result) == ("7.00", "7.90")
    assert result.parking_hours == D("0.75")  # 40 minutes billed as 45 (step 900 s)


def test_max_price_tariff_6() -> None:
    tariff = spec_tariff("tariff_6_025kwh_start_max_price")
    capped = price(tariff, MONDAY, charge(300, 50))
    assert totals(capped) == ("10.00", "11.00")
    assert capped.lines[-1].kind is LineKind.MAX_PRICE
    assert totals(price(tariff, MONDAY, charge(180, 30))) == ("8.00", "8.85")


def test_time_tariff_1_parking_is_free() -> None:
    result = price(spec_tariff("tariff_1_simple_2hour"), MONDAY, charge(150, 30), park(30))
    assert totals(result) == ("5.00", "5.50")
    assert result.parking_hours == 0
    assert [line.kind for line in result.lines if line.dimension is TariffDimension.PARKING_TIME] == [LineKind.UNPRICED]


def test_time_and_parking_tariff_13() -> None:
    result = price(spec_tariff("tariff_13_simple_3hour_5parking"), MONDAY, charge(150, 30), park(42))
    assert totals(result) == ("11.25", "12.75")


def test_ad_hoc_tariff_2() -> None:
    assert totals(price(spec_tariff("tariff_2_alt_text"), MONDAY, charge(150))) == ("4.75", "5.00")


def test_energy_step_100_wh_tariff_3() -> None:
    tariff = spec_tariff("tariff_3_alt_url")
    result = price(tariff, MONDAY, charge(120, "20.45"))
    assert totals(result) == ("5.63", "6.24")
    assert (str(result.energy.excl_vat), str(result.energy.incl_vat)) == ("5.13", "5.64")
    assert result.energy_kwh == D("20.5")
    cheaper = spec_tariff("tariff_3_alt_url")
    elements = example("tariffs/tariff_3_alt_url.json")["elements"]
    elements[0]["price_components"][1]["price"] = 0.22
    cheaper = spec_tariff("tariff_3_alt_url", elements=elements)
    assert totals(price(cheaper, MONDAY, charge(120, "20.45"))) == ("5.01", "5.56")


def test_complex_tariff_4_monday() -> None:
    result = price(spec_tariff("tariff_4_complex"), MONDAY, charge(165, 10, max_current=16), park(42))
    assert totals(result) == ("9.00", "10.30")
    assert exact(result) == (D("9.00"), D("10.30"))
    assert (result.fixed.excl_vat, result.time.excl_vat, result.parking.excl_vat) == (D("2.50"), D("2.75"), D("3.75"))


def test_complex_tariff_4_saturday_corrected() -> None:
    """The spec says 12.28 / 13.861, but 114 min at 1.25/h is 2.375, not 2.28 (spec-facts section 7):
    the right total is 12.375 / 13.975, 12.38 / 13.98 in cents."""
    result = price(spec_tariff("tariff_4_complex"), SATURDAY, charge(114, 40, min_current=43, max_current=43), park(71))
    assert exact(result) == (D("12.375"), D("13.975"))
    assert totals(result) == ("12.38", "13.98")
    assert result.parking_hours == D("1.25")  # 71 minutes billed as 75 (step 300 s)


def test_free_of_charge_tariff_5() -> None:
    result = price(spec_tariff("tariff_5_free_of_charge"), MONDAY, charge(60, 11), park(60))
    assert totals(result) == ("0.00", "0.00")  # the FLAT has no vat, but VAT on nothing is nothing


def test_reservation_tariff_15() -> None:
    result = price(spec_tariff("tariff_15_reservation_5_euro_per_hour"), MONDAY, reserve(15), charge(120, 20))
    assert totals(result) == ("6.75", "7.60")
    assert result.reservation.excl_vat == D("1.25")


def test_reservation_fee_tariff_16() -> None:
    """The spec's table calls the reservation time "Parking time"; it is the reservation's TIME (spec-facts 4.6)."""
    tariff = spec_tariff("tariff_16_reservation_2_euro_fee_5_euro_per_hour")
    result = price(tariff, MONDAY, reserve(13), charge(120, 20))
    assert totals(result) == ("8.75", "10.00")
    assert result.reservation_hours == D("0.25")  # 13 minutes billed as 15 (step 300 s)
    assert (result.reservation.excl_vat, result.fixed.excl_vat) == (D("3.25"), D("0.50"))


def test_reservation_expire_fee_tariff_17() -> None:
    tariff = spec_tariff("tariff_17_reservation_with_expire_fee")
    assert totals(price(tariff, MONDAY, reserve(22), charge(120, 20))) == ("6.50", "7.30")
    expired = price(tariff, MONDAY, reserve(60))
    assert totals(expired) == ("6.00", "7.20")
    assert expired.fixed.excl_vat == 0  # no charging, so no start fee


def test_reservation_expire_time_tariff_18() -> None:
    tariff = spec_tariff("tariff_18_reservation_with_expire_time")
    assert totals(price(tariff, MONDAY, reserve(22), charge(120, 20))) == ("7.00", "7.90")
    assert totals(price(tariff, MONDAY, reserve(90))) == ("9.00", "10.80")


def test_max_power_restriction_example() -> None:
    """1 kWh at 6 kW, 40 kWh at 48 kW, 0.5 kWh at 4 kW: 0.20 + 20.00 + 0.10."""
    result = price(
        spec_tariff("tariffrestriction_example_max_power"),
        MONDAY,
        charge(10, 1, max_power=6),
        charge(50, 40, max_power=48),
        charge("7.5", "0.5", max_power=4),
    )
    assert result.total.excl_vat == D("20.30")


def test_max_duration_restriction_example() -> None:
    """40 minutes: 5 kWh in the first 30 (free), 1.2 kWh after (0.25/kWh)."""
    tariff = spec_tariff("tariffrestriction_example_max_duration")
    assert price(tariff, MONDAY, charge(30, 5), charge(10, "1.2")).total.excl_vat == D("0.30")


def test_step_size_tariff_14_charging_then_parking() -> None:
    """16:55, 10 minutes charging over the 17:00 switch (not rounded), 2 minutes parking billed as 15."""
    result = price(spec_tariff("tariff_14_step_size"), "2024-01-08 16:55", charge(10), park(2))
    assert totals(result) == ("0.55", None)


def test_step_size_tariff_14_charging_only() -> None:
    """35 minutes from 16:35: rounded to 45 with the last step (900 s), the 10 minutes surplus at 2.40/h."""
    result = price(spec_tariff("tariff_14_step_size"), "2024-01-08 16:35", charge(35))
    assert totals(result) == ("1.30", None)
    assert result.time_hours == D("0.75")


def test_step_size_tariff_14_parking_becomes_free() -> None:
    """19:40: 12 min charging (0.48), 20 min parking of which the 8 before 20:00 are priced, billed as 15 (0.25).
    The original 2.2.1 d2 text says 0.80; the bugfix branch corrects it to 0.73 (spec-facts 4.4)."""
    result = price(spec_tariff("tariff_14_step_size"), "2024-01-08 19:40", charge(12), park(20))
    assert totals(result) == ("0.73", None)


def test_cdr_example_with_its_own_tariff() -> None:
    """cdr_example.json: TIME 1.973 h at 2.00/h, step 300 s, billed as 2 h: 4.00 / 4.40 as the CDR says."""
    result = price_cdr(cdr_from_ocpi(example("cdrs/cdr_example.json")))
    assert totals(result) == ("4.00", "4.40")
    assert result.time == result.total
    assert result.time_hours == 2
