"""Bad tariffs and CDRs are refused with an error that names the field; the engine itself needs no Django."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.tariffs import TariffInputError, price_cdr
from billing.tariffs.ocpi_json import cdr_from_ocpi, tariff_from_ocpi, tariffs_from_ocpi, utc_datetime
from tests.billing.tariffs import build_cdr, charge, element, energy, tariff
from tests.examples import EXAMPLES_DIR, example

ROOT = Path(__file__).resolve().parents[2]


def good_cdr() -> dict[str, Any]:
    return {
        "id": "C1",
        "start_date_time": "2024-01-08T10:00:00Z",
        "end_date_time": "2024-01-08T12:00:00Z",
        "currency": "EUR",
        "charging_periods": [
            {"start_date_time": "2024-01-08T10:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 10}]},
            {"start_date_time": "2024-01-08T11:00:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 1}]},
        ],
        "tariffs": [
            {
                "id": "T",
                "currency": "EUR",
                "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
            }
        ],
    }


def broken(path: str, value: Any) -> dict[str, Any]:
    """good_cdr() with the value at a dotted path (list indexes as numbers) replaced, or removed if value is ...."""
    data = copy.deepcopy(good_cdr())
    *parents, last = path.split(".")
    target: Any = data
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is ...:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


def test_good_input_prices() -> None:
    assert price_cdr(cdr_from_ocpi(good_cdr())).total.excl_vat == Decimal("2.50")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("charging_periods.0.dimensions.0.volume", -1, r"charging_periods\[0\]\.dimensions\[0\]\.volume: negative"),
        ("currency", "EUX", "currency: unknown ISO 4217 currency 'EUX'"),
        ("currency", "eur", "currency: expected an ISO 4217 code"),
        ("tariffs.0.currency", "ABC", r"tariffs\[0\]\.currency: unknown ISO 4217"),
        (
            "charging_periods.1.start_date_time",
            "2024-01-08T09:00:00Z",
            r"charging_periods\[1\]\.start_date_time: before the previous period's start \(out of order\)",
        ),
        ("start_date_time", "2024-01-08T12:00:00+02:00", r"start_date_time: not UTC \(offset \+02:00\)"),
        ("charging_periods.0.start_date_time", "2024-01-08 10:00", r"charging_periods\[0\]\.start_date_time: not an"),
        ("end_date_time", "2024-01-08T09:00:00Z", "end_date_time: before start_date_time"),
        ("charging_periods.1.dimensions.0.type", "FUEL", r"dimensions\[0\]\.type: unknown CDR dimension 'FUEL'"),
        ("tariffs.0.elements.0.price_components.0.type", "KWH", r"price_components\[0\]\.type: unknown value 'KWH'"),
        ("tariffs.0.elements.0.price_components.0.step_size", 0, r"step_size: must be at least 1, got 0"),
        ("tariffs.0.elements.0.price_components.0.step_size", 1.5, "step_size: expected a whole number"),
        ("tariffs.0.elements.0.price_components.0.price", "0.25", r"price: expected a number, got '0.25'"),
        ("tariffs.0.elements.0.price_components.0.vat", -1, "vat: negative value"),
        ("tariffs.0.elements.0.price_components", [], r"price_components: empty"),
        ("tariffs.0.elements.0.restrictions", {"start_time": "25:00"}, r"restrictions\.start_time: expected a local"),
        ("tariffs.0.elements.0.restrictions", {"start_date": "2024-02-30"}, r"restrictions\.start_date: day is out"),
        ("tariffs.0.elements.0.restrictions", {"day_of_week": ["MON"]}, r"day_of_week\[0\]: unknown value 'MON'"),
        ("tariffs.0.elements.0.restrictions", {"min_kwh": 5, "max_kwh": 1}, r"min_kwh: 5 is above max_kwh 1"),
        ("tariffs.0.elements.0.restrictions", {"max_duration": 1.5}, r"max_duration: expected whole seconds"),
        ("tariffs.0.elements.0.restrictions", {"reservation": "YES"}, r"reservation: unknown value 'YES'"),
        ("tariffs.0.min_price", {"excl_vat": 2, "incl_vat": 1}, r"min_price\.incl_vat: 1 is less than excl_vat 2"),
        ("tariffs.0.max_price", {"incl_vat": 1}, r"max_price\.excl_vat: missing"),
        ("charging_periods", [], "charging_periods: empty"),
        ("charging_periods.0.dimensions", [], r"charging_periods\[0\]\.dimensions: empty"),
        ("charging_periods.0.start_date_time", ..., r"charging_periods\[0\]\.start_date_time: missing"),
        ("currency", ..., "currency: missing"),
        ("total_energy", -3, "total_energy: negative value"),
        ("tariffs", {"id": "T"}, "tariffs: expected a JSON list"),
    ],
)
def test_bad_cdrs_and_tariffs_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(TariffInputError, match=message):
        cdr_from_ocpi(broken(path, value))


def test_duplicate_dimension_in_a_period() -> None:
    data = good_cdr()
    data["charging_periods"][0]["dimensions"].append({"type": "ENERGY", "volume": 1})
    with pytest.raises(TariffInputError, match=r"dimensions\[1\]\.type: ENERGY given twice"):
        cdr_from_ocpi(data)


def test_reservation_periods_come_first_and_alone() -> None:
    data = good_cdr()
    data["charging_periods"][1]["dimensions"] = [{"type": "RESERVATION_TIME", "volume": 1}]
    with pytest.raises(TariffInputError, match=r"charging_periods\[1\]: a reservation period after charging"):
        cdr_from_ocpi(data)
    data["charging_periods"][1]["dimensions"].append({"type": "ENERGY", "volume": 1})
    with pytest.raises(TariffInputError, match=r"charging_periods\[1\]: a reservation period cannot also carry"):
        cdr_from_ocpi(data)


def test_period_outside_the_session() -> None:
    with pytest.raises(TariffInputError, match=r"charging_periods\[0\]\.start_date_time: before the CDR's start"):
        cdr_from_ocpi(broken("charging_periods.0.start_date_time", "2024-01-08T09:59:59Z"))
    with pytest.raises(TariffInputError, match=r"charging_periods\[1\]\.start_date_time: after the CDR's end"):
        cdr_from_ocpi(broken("charging_periods.1.start_date_time", "2024-01-08T12:00:01Z"))


def test_session_only_dimensions_are_ignored() -> None:
    data = good_cdr()
    data["charging_periods"][0]["dimensions"].append({"type": "STATE_OF_CHARGE", "volume": 80})
    assert price_cdr(cdr_from_ocpi(data)).total.excl_vat == Decimal("2.50")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-29T20:39:09Z", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),
        ("2015-06-29T20:39:09", datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)),  # no Z is still UTC (OCPI)
        ("2016-12-29T17:45:09.2Z", datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=UTC)),
        ("2018-01-01T01:08:01.123", datetime(2018, 1, 1, 1, 8, 1, 123000, tzinfo=UTC)),
        ("2018-01-01T01:08:01+00:00", datetime(2018, 1, 1, 1, 8, 1, tzinfo=UTC)),  # not OCPI, but UTC
    ],
)
def test_ocpi_datetimes(text: str, expected: datetime) -> None:
    assert utc_datetime(text, "x") == expected


def test_free_tariffs_flat_step_size_zero_is_accepted() -> None:
    """The spec's own free-of-charge example has a FLAT with step_size 0."""
    free = tariff_from_ocpi(example("tariffs/tariff_5_free_of_charge.json"))
    assert free.elements[0].price_components[0].step_size == 0


def test_every_official_example_tariff_maps() -> None:
    example("tariffs/tariff_1_simple_2hour.json")  # skips without the examples
    paths = sorted((EXAMPLES_DIR / "tariffs").glob("*.json"))
    assert len(paths) == 20
    for path in paths:
        assert tariff_from_ocpi(json.loads(path.read_text(), parse_float=Decimal)).currency == "EUR", path.name


def test_a_list_of_tariffs_names_the_index() -> None:
    assert len(tariffs_from_ocpi([example("tariffs/tariff_1_simple_2hour.json")] * 2)) == 2
    with pytest.raises(TariffInputError, match=r"\[1\]\.elements: empty"):
        tariffs_from_ocpi([example("tariffs/tariff_1_simple_2hour.json"), {"id": "X", "elements": []}])


def test_the_engine_refuses_naive_and_non_utc_datetimes() -> None:
    cdr = build_cdr("2024-01-08 10:00", charge(60, 10), tariffs=tariff(element(energy(1))))
    naive = replace(cdr, start_date_time=cdr.start_date_time.replace(tzinfo=None))
    with pytest.raises(TariffInputError, match="start_date_time: naive datetime"):
        price_cdr(naive)
    shifted = cdr.end_date_time.astimezone(timezone(timedelta(hours=1)))
    with pytest.raises(TariffInputError, match=r"end_date_time: not UTC \(offset 1:00:00\)"):
        price_cdr(replace(cdr, end_date_time=shifted))


def test_the_engine_refuses_negative_volumes_and_unknown_zones() -> None:
    cdr = build_cdr("2024-01-08 10:00", charge(60, 10), tariffs=tariff(element(energy(1))))
    negative = replace(cdr, charging_periods=(replace(cdr.charging_periods[0], energy=Decimal(-1)),))
    with pytest.raises(TariffInputError, match=r"charging_periods\[0\]\.energy: negative volume -1"):
        price_cdr(negative)
    with pytest.raises(TariffInputError, match="time_zone: unknown IANA time zone 'Mars/Olympus'"):
        price_cdr(cdr, time_zone="Mars/Olympus")


def test_billing_tariffs_imports_no_django() -> None:
    """The engine is pure Python: importing all of it must not pull in Django (or anything of the platform)."""
    code = (
        "import sys\n"
        "import billing.tariffs, billing.tariffs.engine, billing.tariffs.ocpi_json, billing.tariffs.currencies\n"
        "platform = {'django', 'roaming', 'drivers', 'emsp', 'pydantic'}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in platform)\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
