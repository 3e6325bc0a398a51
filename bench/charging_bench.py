"""Charging-path benchmarks (issue 6 targets): real-time authorization answered with p99 under 30 ms
at 16 concurrent CPO requests, and CDR POST ingest of at least 500 per second."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .loadgen import LoadResult, build_request, run_load


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def _driver_tokens(count: int) -> list[tuple[str, str]]:
    """`count` RFID cards of a bench driver: (uid, contract_id)."""
    from django.contrib.auth import get_user_model

    from drivers.models import Token
    from drivers.services import driver_create, token_issue

    user, _ = get_user_model().objects.get_or_create(username="bench-driver")
    driver = getattr(user, "driver", None) or driver_create(user=user)
    existing = Token.objects.filter(driver=driver).count()
    for n in range(existing, count):
        token_issue(driver=driver, uid=f"BENCH{n:06d}")
    return list(Token.objects.filter(driver=driver).values_list("uid", "contract_id")[:count])


def bench_authorize(
    *, port: int, token: str, seconds: float, connections: int = 16, rate: float | None = None
) -> LoadResult:
    """Saturated (`rate` None: each connection asks again as soon as it has its answer) or paced."""
    from roaming.models import Location

    host = f"127.0.0.1:{port}"
    cards = _driver_tokens(1000)
    locations = list(Location.objects.values_list("ocpi_id", flat=True)[:200])
    requests = [
        build_request(
            "POST",
            f"/ocpi/2.2.1/tokens/{uid}/authorize?type=RFID",
            host,
            json.dumps({"location_id": locations[n % len(locations)]}).encode(),
            _auth(token),
        )
        for n, (uid, _) in enumerate(cards * 200)
    ]
    run_load("127.0.0.1", port, requests[:1000], connections=connections, seconds=2)  # warm-up
    return run_load("127.0.0.1", port, requests[1000:], connections=connections, seconds=seconds, rate=rate)


def _cdr(n: int, party: tuple[str, str], uid: str, contract_id: str, location: dict[str, Any]) -> dict[str, Any]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    end = start + timedelta(minutes=90)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    evse = location["evse"]
    return {
        "country_code": party[0],
        "party_id": party[1],
        "id": f"BENCH-CDR-{n:08d}",
        "start_date_time": start.strftime(fmt),
        "end_date_time": end.strftime(fmt),
        "session_id": f"BENCH-S-{n:08d}",
        "cdr_token": {"country_code": "NL", "party_id": "EMS", "uid": uid, "type": "RFID", "contract_id": contract_id},
        "auth_method": "AUTH_REQUEST",
        "cdr_location": {
            "id": location["id"],
            "address": "Benchstraat 1",
            "city": "Utrecht",
            "country": "NLD",
            "coordinates": {"latitude": "52.090737", "longitude": "5.121420"},
            "evse_uid": evse,
            "evse_id": f"NL*BIG*E{evse}",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "tariffs": [
            {
                "country_code": party[0],
                "party_id": party[1],
                "id": "T1",
                "currency": "EUR",
                "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}]}],
                "last_updated": start.strftime(fmt),
            }
        ],
        "charging_periods": [
            {
                "start_date_time": start.strftime(fmt),
                "dimensions": [{"type": "ENERGY", "volume": 22.4}, {"type": "TIME", "volume": 1.5}],
                "tariff_id": "T1",
            }
        ],
        "total_cost": {"excl_vat": 7.84, "incl_vat": 9.4864},
        "total_energy": 22.4,
        "total_time": 1.5,
        "total_energy_cost": {"excl_vat": 7.84, "incl_vat": 9.4864},
        "last_updated": end.strftime(fmt),
    }


def bench_cdr_ingest(*, port: int, token: str, seconds: float, connections: int = 16, first: int = 0) -> LoadResult:
    """CDRs numbered from `first` (a later run sends new ones, not resends)."""
    from roaming.models import Evse

    host = f"127.0.0.1:{port}"
    cards = _driver_tokens(1000)
    evses = list(
        Evse.objects.values_list("location__country_code", "location__party_id", "location__ocpi_id", "uid")[:500]
    )
    party = (evses[0][0], evses[0][1])
    requests = []
    for n in range(first, first + 61_000):
        _, _, location_id, evse_uid = evses[n % len(evses)]
        uid, contract_id = cards[n % len(cards)]
        body = json.dumps(_cdr(n, party, uid, contract_id, {"id": location_id, "evse": evse_uid})).encode()
        requests.append(build_request("POST", "/ocpi/2.2.1/cdrs", host, body, _auth(token)))
    # Warm-up, as for authorization: the first CDRs into an empty table run on its empty-table statistics.
    run_load("127.0.0.1", port, requests[:1000], connections=connections, seconds=2)
    return run_load("127.0.0.1", port, requests[1000:], connections=connections, seconds=seconds)
