"""A tariff element's restrictions in words, as the back office shows them: the engine's reading of each field
(min inclusive, max exclusive, end_time 00:00 the end of the day, end_date exclusive)."""

from __future__ import annotations

from typing import Any

import pytest

from billing.tariffs.describe import duration_text, restrictions_text, step_text, unit_text
from billing.tariffs.ocpi_json import restrictions_from_ocpi

WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]


@pytest.mark.parametrize(
    ("restrictions", "words"),
    [
        (None, "always"),
        ({}, "always"),
        (
            {
                "day_of_week": WEEKDAYS,
                "start_time": "08:00",
                "end_time": "18:00",
                "min_power": 11,
                "min_duration": 7200,
            },
            "Mon-Fri 08:00-18:00, from 11 kW, after 2 h",
        ),
        ({"day_of_week": ["SATURDAY", "SUNDAY"]}, "Sat, Sun"),
        ({"day_of_week": ["MONDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SUNDAY"]}, "Mon, Wed-Fri, Sun"),
        ({"day_of_week": [*WEEKDAYS, "SATURDAY", "SUNDAY"]}, "always"),  # every day is no restriction
        ({"start_time": "22:00", "end_time": "06:00"}, "22:00-06:00"),  # over midnight
        ({"start_time": "18:00", "end_time": "00:00"}, "18:00-24:00"),  # 00:00 ends the day
        ({"start_time": "18:00"}, "from 18:00"),
        ({"end_time": "07:30"}, "until 07:30"),
        ({"start_date": "2026-01-01", "end_date": "2026-04-01"}, "2026-01-01 to 2026-03-31"),  # end_date exclusive
        ({"end_date": "2026-04-01"}, "until 2026-03-31"),
        ({"max_power": 50}, "below 50 kW"),
        ({"min_power": 50, "max_power": 150.5}, "50 to 150.5 kW"),
        ({"min_current": 16, "max_current": 32}, "16 to 32 A"),
        ({"min_kwh": 20}, "after 20 kWh"),
        ({"max_kwh": 20}, "first 20 kWh"),
        ({"min_kwh": 10.5, "max_kwh": 20}, "10.5 to 20 kWh"),
        ({"max_duration": 1800}, "first 30 min"),
        ({"min_duration": 5400, "max_duration": 9000}, "1 h 30 min to 2 h 30 min"),
        ({"reservation": "RESERVATION"}, "during a reservation"),
        ({"reservation": "RESERVATION_EXPIRES"}, "when a reservation expires"),
    ],
)
def test_restrictions_in_words(restrictions: dict[str, Any] | None, words: str) -> None:
    parsed = None if restrictions is None else restrictions_from_ocpi(restrictions)
    assert restrictions_text(parsed) == words


def test_units_steps_and_durations() -> None:
    assert [unit_text(d) for d in ("ENERGY", "TIME", "PARKING_TIME", "FLAT", "NEW")] == [
        "per kWh", "per hour charging", "per hour parking", "per session", "NEW",
    ]  # fmt: skip
    assert [step_text("ENERGY", s) for s in (1, 500, 1000, 2000)] == [
        "by the Wh",
        "by 500 Wh",
        "by the kWh",
        "by 2 kWh",
    ]
    assert [step_text("TIME", s) for s in (1, 60, 900)] == ["by the second", "by 1 min", "by 15 min"]
    assert step_text("FLAT", 0) == ""
    assert [duration_text(s) for s in (0, 45, 3600, 3661)] == ["0 s", "45 s", "1 h", "1 h 1 min 1 s"]
