"""EVSE status PATCH pushed by 16 concurrent clients, served by gunicorn, against a bare Django view
doing one UPDATE in the same run (issue 5 targets: 800 req/s, p99 < 50 ms, ratio >= 0.5)."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .loadgen import LoadResult, build_request, run_load


def _requests(
    port: int, token: str, evses: list[tuple[int, str, str, str, str]], count: int, ours: bool
) -> list[bytes]:
    host = f"127.0.0.1:{port}"
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    start = datetime.now(UTC) + timedelta(days=1)  # newer than anything stored: every PATCH applies
    statuses = itertools.cycle(["CHARGING", "AVAILABLE", "BLOCKED", "AVAILABLE"])
    out = []
    for n, (pk, cc, pid, location_id, uid) in zip(range(count), itertools.cycle(evses), strict=False):
        status = next(statuses)
        if ours:
            stamp = (start + timedelta(milliseconds=n)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            body = json.dumps({"status": status, "last_updated": stamp}).encode()
            out.append(
                build_request("PATCH", f"/ocpi/2.2.1/locations/{cc}/{pid}/{location_id}/{uid}", host, body, auth)
            )
        else:
            out.append(build_request("PATCH", f"/bench/baseline/{pk}", host, json.dumps({"status": status}).encode()))
    return out


def bench_status_patch(*, port: int, token: str, seconds: float, connections: int = 16) -> dict[str, Any]:
    from roaming.models import Evse

    evses = list(
        Evse.objects.filter(removed_at__isnull=True).values_list(
            "pk", "location__country_code", "location__party_id", "location__ocpi_id", "uid"
        )[:20000]
    )
    count = 200_000
    run_load(
        "127.0.0.1", port, _requests(port, token, evses, 2000, ours=True), connections=connections, seconds=3
    )  # warm-up: connections, caches, gunicorn workers
    baseline: LoadResult = run_load(
        "127.0.0.1", port, _requests(port, token, evses, count, ours=False), connections=connections, seconds=seconds
    )
    ours: LoadResult = run_load(
        "127.0.0.1", port, _requests(port, token, evses, count, ours=True), connections=connections, seconds=seconds
    )
    return {"baseline": baseline, "ours": ours, "ratio": ours.throughput / baseline.throughput}
