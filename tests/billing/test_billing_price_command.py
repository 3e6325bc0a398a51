"""`manage.py billing_price`: end to end through call_command, and as a process for the exit code and stderr."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tests.examples import example

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, data: Any) -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def run(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("billing_price", *args, stdout=out)
    return json.loads(out.getvalue())


def monday_cdr(**changes: Any) -> dict[str, Any]:
    """The complex tariff's Monday example as an OCPI CDR: 165 min at 16 A from 09:30 Amsterdam, 42 min parking."""
    return {
        "country_code": "NL",
        "party_id": "CPO",
        "id": "CDR1",
        "start_date_time": "2024-01-08T08:30:00Z",
        "end_date_time": "2024-01-08T11:57:00Z",
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2024-01-08T08:30:00Z",
                "dimensions": [
                    {"type": "ENERGY", "volume": 10},
                    {"type": "TIME", "volume": 2.75},
                    {"type": "MAX_CURRENT", "volume": 16},
                ],
                "tariff_id": "14",
            },
            {
                "start_date_time": "2024-01-08T11:15:00Z",
                "dimensions": [{"type": "PARKING_TIME", "volume": 0.7}],
                "tariff_id": "14",
            },
        ],
        "total_cost": {"excl_vat": 1234.56},  # ignored: we recompute
        "total_energy": 10,
        "total_time": 3.45,
        "total_parking_time": 0.7,
        "last_updated": "2024-01-08T12:00:00Z",
        **changes,
    }


def test_prices_a_cdr_with_a_tariff_file(tmp_path: Path) -> None:
    tariff = write(tmp_path, "tariff.json", example("tariffs/tariff_4_complex.json"))
    cdr = write(tmp_path, "cdr.json", monday_cdr())
    result = run("--tariff", tariff, "--cdr", cdr, "--time-zone", "Europe/Amsterdam")
    assert result["currency"] == "EUR"
    assert result["total_cost"] == {"excl_vat": "9.00", "incl_vat": "10.30"}
    assert result["total_fixed_cost"] == {"excl_vat": "2.50", "incl_vat": "2.88"}
    assert result["total_time_cost"] == {"excl_vat": "2.75", "incl_vat": "3.30"}
    assert result["total_parking_cost"] == {"excl_vat": "3.75", "incl_vat": "4.13"}
    assert result["total_energy_cost"] == {"excl_vat": "0.00", "incl_vat": "0.00"}
    assert result["total_reservation_cost"] == {"excl_vat": "0.00", "incl_vat": "0.00"}
    assert (result["total_energy"], result["total_time"], result["total_parking_time"]) == ("0", "2.75", "0.75")
    assert result["warnings"] == []
    parking = [line for line in result["lines"] if line["dimension"] == "PARKING_TIME"]
    assert [(line["kind"], line["element"], line["volume"], line["excl_vat"]) for line in parking] == [
        ("VOLUME", 4, "0.7", "3.5"),
        ("STEP", 4, "0.05", "0.25"),
    ]
    assert parking[0]["start"] == "2024-01-08T11:15:00Z"


def test_a_list_of_tariffs_and_the_time_zone_matters(tmp_path: Path) -> None:
    """Weekday parking is priced 09:00-18:00 local time. Parking from 16:30 to 18:00 UTC is all inside that
    window if the Location is in UTC, but only its first half hour if it is in Amsterdam (17:30-19:00 local)."""
    tariffs = write(
        tmp_path,
        "tariffs.json",
        [example("tariffs/tariff_1_simple_2hour.json"), example("tariffs/tariff_4_complex.json")],
    )
    late = monday_cdr(
        start_date_time="2024-01-08T16:30:00Z",
        end_date_time="2024-01-08T18:00:00Z",
        charging_periods=[
            {"start_date_time": "2024-01-08T16:30:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 1.5}]}
        ],
        total_time=1.5,
        total_parking_time=1.5,
    )
    late["charging_periods"][0]["tariff_id"] = "14"
    cdr = write(tmp_path, "cdr.json", late)
    in_utc = run("--tariff", tariffs, "--cdr", cdr)
    in_amsterdam = run("--tariff", tariffs, "--cdr", cdr, "--time-zone", "Europe/Amsterdam")
    assert in_utc["total_parking_cost"]["excl_vat"] == "7.50"  # 16:30-18:00 UTC read as local: all priced
    assert in_amsterdam["total_parking_cost"]["excl_vat"] == "2.50"  # 17:30-18:00 local priced, billed 30 min


def test_the_cdrs_own_tariffs_take_precedence(tmp_path: Path) -> None:
    """cdr_example.json carries tariff 12 (TIME 2.00/h); a different tariff 12 in the file is not used."""
    ours = {**example("tariffs/tariff_1_simple_2hour.json"), "id": "12"}
    ours["elements"][0]["price_components"][0]["price"] = 50
    result = run(
        "--tariff",
        write(tmp_path, "t.json", ours),
        "--cdr",
        write(tmp_path, "c.json", example("cdrs/cdr_example.json")),
    )
    assert result["total_cost"] == {"excl_vat": "4.00", "incl_vat": "4.40"}
    assert result["warnings"] == [
        "total_energy 15.342 kWh, charging periods carry 0 kWh"
    ]  # the example has no ENERGY dimension


def test_incl_vat_left_out_where_vat_is_unknown(tmp_path: Path) -> None:
    tariff = write(tmp_path, "t.json", example("tariffs/tariff_14_step_size.json"))
    cdr = monday_cdr(
        start_date_time="2024-01-08T16:35:00Z",
        end_date_time="2024-01-08T17:10:00Z",
        charging_periods=[
            {"start_date_time": "2024-01-08T16:35:00Z", "dimensions": [{"type": "TIME", "volume": 0.5833}]}
        ],
        total_energy=0,
        total_time=0.5833,
        total_parking_time=0,
    )
    result = run("--tariff", tariff, "--cdr", write(tmp_path, "c.json", cdr))
    assert result["total_cost"] == {"excl_vat": "1.30"}


@pytest.mark.parametrize(
    ("tariff", "cdr", "message"),
    [
        (None, {"charging_periods": "x"}, r"invalid CDR in .*c\.json: charging_periods: expected a JSON list"),
        ({"id": "14", "currency": "EURO", "elements": []}, None, r"invalid tariff in .*t\.json: elements: empty"),
        (None, "{not json", r"--cdr: .*c\.json is not JSON"),
    ],
)
def test_bad_input_is_a_command_error(tmp_path: Path, tariff: Any, cdr: Any, message: str) -> None:
    tariff_path = write(tmp_path, "t.json", tariff if tariff is not None else example("tariffs/tariff_4_complex.json"))
    cdr_path = write(tmp_path, "c.json", cdr if cdr is not None else monday_cdr())
    with pytest.raises(CommandError, match=message):
        run("--tariff", tariff_path, "--cdr", cdr_path)


def test_unknown_time_zone_and_missing_file(tmp_path: Path) -> None:
    tariff = write(tmp_path, "t.json", example("tariffs/tariff_4_complex.json"))
    cdr = write(tmp_path, "c.json", monday_cdr())
    with pytest.raises(CommandError, match="cannot price the CDR: time_zone: unknown IANA time zone 'Europe/Amsterdm'"):
        run("--tariff", tariff, "--cdr", cdr, "--time-zone", "Europe/Amsterdm")
    with pytest.raises(CommandError, match=r"--tariff: cannot read .*missing\.json: No such file"):
        run("--tariff", str(tmp_path / "missing.json"), "--cdr", cdr)


def test_as_a_process_errors_go_to_stderr_with_a_non_zero_exit(tmp_path: Path) -> None:
    tariff = write(tmp_path, "t.json", example("tariffs/tariff_4_complex.json"))
    bad = monday_cdr()
    bad["charging_periods"][1]["dimensions"][0]["volume"] = -0.7
    cdr = write(tmp_path, "c.json", bad)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "emsp.settings_test"}
    command = [sys.executable, "manage.py", "billing_price", "--tariff", tariff, "--cdr", cdr]
    failed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode != 0
    assert failed.stdout == ""
    assert "charging_periods[1].dimensions[0].volume: negative value -0.7" in failed.stderr

    write(tmp_path, "c.json", monday_cdr())
    command += ["--time-zone", "Europe/Amsterdam"]
    ok = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["total_cost"] == {"excl_vat": "9.00", "incl_vat": "10.30"}
