"""The driver app's "near me" on a Europe-sized network (issue 16 targets): 100,000 locations with about
500,000 EVSEs on PostgreSQL; p95 under 30 ms from one client, and its throughput at 16 clients printed next to a
bare DRF view's (and the bare Django view's) in the same run.

The network is seeded by COPY: locations over the Netherlands, Belgium and the west of Germany, two thirds of
them clustered around 40 city centres (as chargers are), 1 to 9 EVSEs each (5 on average) with 1 or 2
connectors; 2 % of the locations unpublished, 1 % no longer listed, 2 % of the EVSEs REMOVED. Each request
asks from a point in one of the cities (where answers are longest) with the app's defaults: 5 km, page of 20.
Requests go through gunicorn with production settings and a driver's JWT, as the app sends them.

Alone: `python -m bench.chargers_bench [--locations N --seconds S]` (fresh database BENCH_DATABASE_URL);
`python -m bench` runs it near the end, on a fresh database of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

from .servers import ROOT

#: City centres (lat, lon): where two thirds of the chargers are, and where the app asks from.
CITIES = [
    (52.3702, 4.8952), (51.9244, 4.4777), (52.0907, 5.1214), (52.0705, 4.3007), (51.4416, 5.4697),
    (53.2194, 6.5665), (51.5719, 4.7683), (51.8126, 5.8372), (52.2215, 6.8937), (52.1561, 5.3878),
    (51.6978, 5.3037), (52.5168, 6.0830), (50.8514, 5.6910), (52.3874, 4.6462), (52.0116, 4.3571),
    (51.9851, 5.8987), (53.2012, 5.7999), (52.6324, 4.7534), (52.2112, 5.9699), (51.5886, 4.7759),
    (50.8503, 4.3517), (51.2194, 4.4025), (51.0543, 3.7174), (50.6326, 5.5797), (51.2093, 3.2247),
    (50.8798, 4.7005), (50.4108, 4.4446), (51.0259, 4.4776), (50.9307, 5.3325), (50.4669, 4.8675),
    (50.9375, 6.9603), (51.2277, 6.7735), (51.4556, 7.0116), (51.5136, 7.4653), (51.4818, 7.2162),
    (50.7374, 7.0982), (51.9607, 7.6261), (50.7753, 6.0839), (51.3397, 6.5854), (51.2562, 7.1508),
]  # fmt: skip
BOUNDS = (49.5, 2.5, 53.6, 8.0)  # south, west, north, east
STATUSES = ["AVAILABLE"] * 50 + ["CHARGING"] * 30 + ["OUTOFORDER"] * 5 + ["BLOCKED"] * 5 + ["UNKNOWN"] * 8
CONNECTORS = [
    ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 16, 11000),
    ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22000),
    ("IEC_62196_T2_COMBO", "CABLE", "DC", 500, 125, 50000),
    ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 500, 350000),
    ("CHADEMO", "CABLE", "DC", 500, 100, 50000),
]
RADIUS_M = 5000


def _copy(cursor: Any, table: str, columns: list[str], rows: Any) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed(*, locations: int, seed_value: int = 16) -> dict[str, int]:
    """The network, by COPY into the empty tables of a fresh database (ids given here, sequences set after)."""
    from django.db import connection

    from roaming.models import Connector, Evse, Location, Partner

    rng = random.Random(seed_value)
    partners = [
        Partner.objects.create(name=f"Bench CPO {n}", versions_url=f"https://cpo{n}.example.com/versions")
        for n in range(8)
    ]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    south, west, north, east = BOUNDS
    location_rows, evse_rows, connector_rows = [], [], []
    evse_pk = connector_pk = 0
    for pk in range(1, locations + 1):
        if rng.random() < 2 / 3:
            lat0, lon0 = rng.choice(CITIES)
            lat, lon = rng.gauss(lat0, 0.04), rng.gauss(lon0, 0.06)
        else:
            lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        partner = partners[pk % len(partners)]
        location_rows.append(
            (pk, partner.pk, "NL", f"P{pk % len(partners)}", f"LOC{pk}", rng.random() >= 0.02, f"Charger {pk}",
             f"Laan {pk % 400 + 1}", f"City {pk % 997}", "1234 AB", "", "NLD", f"{lat:.7f}", f"{lon:.7f}",
             "ON_STREET", "Europe/Amsterdam", partner.name, "[]", None, True, "{}", "", now,
             now if rng.random() < 0.01 else None, now, now)
        )  # fmt: skip
        for n in range(rng.randint(1, 9)):
            evse_pk += 1
            status = "REMOVED" if rng.random() < 0.02 else rng.choice(STATUSES)
            evse_rows.append((evse_pk, pk, f"{pk}-{n}", f"NL*P{pk % 8}*E{evse_pk}", status, "[]", "", "", None, None,
                              "[]", "{}", now, None))  # fmt: skip
            kinds = rng.sample(CONNECTORS, rng.choice((1, 1, 2)))
            for c, (standard, fmt, power_type, volts, amps, watts) in enumerate(kinds, start=1):
                connector_pk += 1
                connector_rows.append((connector_pk, evse_pk, str(c), standard, fmt, power_type, volts, amps, watts,
                                       '["T1"]', "", "{}", now, None))  # fmt: skip

    def columns(model: Any) -> list[str]:
        return [f.column for f in model._meta.concrete_fields]

    with connection.cursor() as cursor:
        raw = cursor.cursor
        _copy(raw, Location._meta.db_table, columns(Location), location_rows)
        _copy(raw, Evse._meta.db_table, columns(Evse), evse_rows)
        _copy(raw, Connector._meta.db_table, columns(Connector), connector_rows)
        for model in (Location, Evse, Connector):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    return {"locations": locations, "evses": evse_pk, "connectors": connector_pk}


def _driver_token() -> str:
    """A driver with a JWT access token that lasts the run."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from drivers.services import driver_create

    user = get_user_model().objects.create_user("bench-driver", "bench-driver@example.com", "pw")
    driver_create(user=user, language="en")
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(hours=2))
    return str(token)


def _near_requests(port: int, token: str, count: int, seed_value: int = 7) -> list[bytes]:
    from .loadgen import build_request

    rng = random.Random(seed_value)
    host, auth = f"127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    out = []
    for _ in range(count):
        lat0, lon0 = rng.choice(CITIES)
        lat, lon = rng.gauss(lat0, 0.02), rng.gauss(lon0, 0.03)
        out.append(build_request("GET", f"/api/v1/chargers/near?lat={lat:.5f}&lon={lon:.5f}&radius={RADIUS_M}", host,
                                 headers=auth))  # fmt: skip
    return out


def _bare_drf_requests(port: int, token: str, count: int) -> list[bytes]:
    from .loadgen import build_request

    request = build_request("GET", "/bench/drf", f"127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
    return [request] * count


def _load(result: Any) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "rps": round(result.throughput),
        "p50_ms": round(result.percentile(50), 1),
        "p95_ms": round(result.percentile(95), 1),
        "p99_ms": round(result.percentile(99), 1),
        "errors": result.errors,
        "statuses": result.statuses,
    }


def _answer_sizes(port: int, token: str) -> dict[str, float]:
    """What the measured answers hold (a sanity check that they are real): mean count and results per page."""
    import http.client

    counts, results = [], []
    for request in _near_requests(port, token, 50, seed_value=99):
        path = request.split(b" ")[1].decode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        body = json.loads(conn.getresponse().read())
        conn.close()
        counts.append(body["count"])
        results.append(len(body["results"]))
    return {"mean_count": round(sum(counts) / len(counts)), "mean_results": round(sum(results) / len(results), 1)}


def bench_chargers(*, locations: int = 100_000, seconds: float = 10.0, workers: int = 4) -> dict[str, Any]:
    """Seed a fresh database (the caller has set it up) and measure near me, the bare DRF and Django views."""
    from .loadgen import run_load
    from .patch_bench import _requests as django_baseline_requests
    from .servers import free_port, gunicorn

    began = time.monotonic()
    network = seed(locations=locations)
    seeded = round(time.monotonic() - began, 1)
    token = _driver_token()
    from django.db import connection

    connection.close()
    port = free_port()
    # The bare Django view UPDATEs an EVSE by key (bench/urls.py), as in the status PATCH run.
    evses = [(pk, "", "", "", "") for pk in range(1, 20_001)]
    with gunicorn(port=port, workers=workers, threads=1):
        run_load("127.0.0.1", port, _near_requests(port, token, 3000, seed_value=1), connections=16, seconds=3)
        sizes = _answer_sizes(port, token)
        one = run_load("127.0.0.1", port, _near_requests(port, token, 100_000), connections=1, seconds=seconds)
        many = run_load(
            "127.0.0.1", port, _near_requests(port, token, 200_000, seed_value=8), connections=16, seconds=seconds
        )
        drf = run_load("127.0.0.1", port, _bare_drf_requests(port, token, 200_000), connections=16, seconds=seconds)
        django = run_load(
            "127.0.0.1", port, django_baseline_requests(port, "", evses, 200_000, ours=False), connections=16,
            seconds=seconds,
        )  # fmt: skip
    return {
        "network": network,
        "seed_seconds": seeded,
        "radius_m": RADIUS_M,
        "answers": sizes,
        "one_client": _load(one),
        "sixteen_clients": _load(many),
        "bare_drf": _load(drf),
        "bare_django": _load(django),
        "ratio_drf": round(many.throughput / drf.throughput, 2) if drf.throughput else 0.0,
    }


def print_result(result: dict[str, Any]) -> None:
    n, one, many = result["network"], result["one_client"], result["sixteen_clients"]
    drf, django, sizes = result["bare_drf"], result["bare_django"], result["answers"]
    print(
        f"  network: {n['locations']:,} locations, {n['evses']:,} EVSEs, {n['connectors']:,} connectors "
        f"(seeded in {result['seed_seconds']} s); a {result['radius_m']} m search finds {sizes['mean_count']} "
        f"locations on average, {sizes['mean_results']} on the page"
    )
    print(f"  near me, 1 client:    {one['rps']} req/s, p50 {one['p50_ms']} ms, p95 {one['p95_ms']} ms, "
          f"p99 {one['p99_ms']} ms, errors {one['errors']}")  # fmt: skip
    print(f"  near me, 16 clients:  {many['rps']} req/s, p50 {many['p50_ms']} ms, p99 {many['p99_ms']} ms, "
          f"errors {many['errors']}")  # fmt: skip
    print(f"  bare DRF view (JWT, IsDriver, a constant answer), 16 clients: {drf['rps']} req/s, "
          f"p99 {drf['p99_ms']} ms")  # fmt: skip
    print(f"  bare Django view (one UPDATE), 16 clients: {django['rps']} req/s, p99 {django['p99_ms']} ms")
    print(f"  near me / bare DRF throughput: {result['ratio_drf']}")


def table_rows(result: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The README table's rows of this benchmark."""
    n, one, many = result["network"], result["one_client"], result["sixteen_clients"]
    drf, django = result["bare_drf"], result["bare_django"]
    return [
        (
            f"driver API near me ({result['radius_m'] // 1000} km, page of 20), {n['locations']:,} locations / "
            f"{n['evses']:,} EVSEs, 1 client",
            f"p95 {one['p95_ms']} ms ({one['rps']} req/s)",
            "p95 < 30 ms",
            "met" if one["p95_ms"] < 30 else "**not met**",
        ),
        ("near me, 16 clients", f"{many['rps']} req/s, p99 {many['p99_ms']} ms", "", ""),
        (
            "bare DRF view in the same run (JWT, IsDriver), 16 clients",
            f"{drf['rps']} req/s, p99 {drf['p99_ms']} ms",
            "",
            "",
        ),
        (
            "bare Django view in the same run (one UPDATE), 16 clients",
            f"{django['rps']} req/s, p99 {django['p99_ms']} ms",
            "",
            "",
        ),
        ("near me / bare DRF throughput", f"{result['ratio_drf']:.2f}", "", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chargers_bench")
    parser.add_argument("--locations", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    from .servers import DATABASE_URL, fresh_database

    os.environ.update({"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL})
    sys.path.insert(0, str(ROOT))
    print(f"fresh database {DATABASE_URL} ...", flush=True)
    fresh_database()
    import django

    django.setup()
    print(f"chargers near me: {args.locations:,} locations, {args.seconds:.0f} s per run ...", flush=True)
    result = bench_chargers(locations=args.locations, seconds=args.seconds, workers=args.workers)
    print_result(result)
    print()
    print("| benchmark | result | target | |\n|---|---|---|---|")
    for row in table_rows(result):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
