"""The live-session poll: 16 apps polling their driver's running session with a JWT, as the app does every few
seconds (If-None-Match with the last ETag: 304 while nothing changed), served by gunicorn on PostgreSQL, next
to a bare DRF view (the same JWT authentication, one query by primary key) in the same run. Target: p99 < 30 ms
at 16 clients (issue 16).

    python -m bench.live_session_bench [--drivers 5000] [--seconds 10]   # alone, on a fresh BENCH_DATABASE_URL
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from .loadgen import LoadResult, build_request, run_load
from .servers import DATABASE_URL, ROOT, free_port, fresh_database, gunicorn

TARIFF = "T-ENERGY"


def seed(*, drivers: int) -> list[tuple[int, str]]:
    """A CPO with a location and EVSE per driver, each driver charging there now (a session with charging
    periods and the CPO's running cost); one energy tariff, a default plan. Returns (session pk, JWT) pairs."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from billing.models import RetailPlan
    from drivers.models import Driver, Token
    from roaming.models import (
        ChargingSession,
        Connector,
        Evse,
        Location,
        Partner,
        PriceComponent,
        Tariff,
        TariffElement,
    )

    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(minutes=30)
    RetailPlan.objects.create(name="Pay as you go", is_default=True, markup_percent=Decimal("10"))
    partner = Partner.objects.create(name="Bench CPO", versions_url="https://cpo.example.com/versions")
    tariff = Tariff.objects.create(
        partner=partner, country_code="NL", party_id="CPO", ocpi_id=TARIFF, currency="EUR", last_updated=now
    )
    element = TariffElement.objects.create(tariff=tariff, position=0)
    PriceComponent.objects.create(element=element, position=0, type="ENERGY", price=Decimal("0.35"), step_size=1)
    password = make_password("pw")
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench{n}", email=f"bench{n}@example.com", password=password) for n in range(drivers)]
    )
    people = Driver.objects.bulk_create([Driver(user=user, country="NL") for user in users])
    tokens = Token.objects.bulk_create(
        [
            Token(driver=d, uid=f"APP{n:08d}", type=Token.Type.APP_USER, contract_id=f"NL-EMS-C{n:08d}-X",
                  issuer="Bench", status=Token.Status.ACTIVE, last_updated=now)
            for n, d in enumerate(people)
        ]
    )  # fmt: skip
    locations = Location.objects.bulk_create(
        [
            Location(partner=partner, country_code="NL", party_id="CPO", ocpi_id=f"LOC{n:06d}", name=f"Garage {n}",
                     address=f"Street {n}", city="Amsterdam", country="NLD", latitude=Decimal("52.37"),
                     longitude=Decimal("4.89"), time_zone="Europe/Amsterdam", last_updated=now)
            for n in range(drivers)
        ]
    )  # fmt: skip
    evses = Evse.objects.bulk_create(
        [Evse(location=loc, uid=f"{loc.ocpi_id}-1", status="CHARGING", last_updated=now) for loc in locations]
    )
    Connector.objects.bulk_create(
        [
            Connector(evse=evse, ocpi_id="1", standard="IEC_62196_T2", format="SOCKET", power_type="AC_3_PHASE",
                      max_voltage=400, max_amperage=32, max_electric_power=22000, tariff_ids=[TARIFF],
                      last_updated=now)
            for evse in evses
        ]
    )  # fmt: skip
    periods = [
        {"start_date_time": (start + timedelta(minutes=15 * n)).isoformat().replace("+00:00", "Z"),
         "dimensions": [{"type": "ENERGY", "volume": 2.75}, {"type": "TIME", "volume": 0.25}]}
        for n in range(2)
    ]  # fmt: skip
    sessions = ChargingSession.objects.bulk_create(
        [
            ChargingSession(partner=partner, country_code="NL", party_id="CPO", ocpi_id=f"S{n:08d}", status="ACTIVE",
                            start_date_time=start, kwh=Decimal("5.5"), auth_method="COMMAND",
                            ocpi_location_id=loc.ocpi_id, evse_uid=f"{loc.ocpi_id}-1", connector_id="1",
                            currency="EUR", total_cost_excl_vat=Decimal("1.925"), token_uid=token.uid,
                            token_type="APP_USER", contract_id=token.contract_id, token=token, driver=token.driver,
                            location=loc, charging_periods=periods, last_updated=now)
            for n, (loc, token) in enumerate(zip(locations, tokens, strict=True))
        ]
    )  # fmt: skip
    return [(session.pk, str(AccessToken.for_user(user))) for session, user in zip(sessions, users, strict=True)]


def _etags(pairs: list[tuple[int, str]]) -> dict[int, str]:
    """The ETag each app holds: of its session's last answer (computed here, as the view computes it)."""
    from api.views.charging import live_session_etag
    from roaming.models import ChargingSession

    sessions = ChargingSession.objects.select_related("location").filter(pk__in=[pk for pk, _ in pairs])
    return {session.pk: live_session_etag(session) for session in sessions}


def _requests(port: int, pairs: list[tuple[int, str]], etags: dict[int, str] | None, baseline: bool) -> list[bytes]:
    host = f"127.0.0.1:{port}"
    out = []
    for pk, jwt in itertools.islice(itertools.cycle(pairs), 20_000):
        headers = {"Authorization": f"Bearer {jwt}"}
        if etags:
            headers["If-None-Match"] = etags[pk]
        path = f"/bench/baseline-session/{pk}" if baseline else f"/api/v1/charging/sessions/{pk}"
        out.append(build_request("GET", path, host, headers=headers))
    return out


def bench_live_session(
    *, port: int, pairs: list[tuple[int, str]], seconds: float, connections: int = 16
) -> dict[str, Any]:
    """Warm-up, then the baseline, the poll with If-None-Match (304s) and the poll without (full answers)."""
    run_load("127.0.0.1", port, _requests(port, pairs, _etags(pairs), False), connections=connections, seconds=2)
    baseline = run_load("127.0.0.1", port, _requests(port, pairs, None, True), connections=connections, seconds=seconds)
    # The ETags as the apps hold them now. The cost is priced again every 30 minutes per session
    # (COST_CACHE_SECONDS), so in the run a few sessions (seconds / 1800 of them) answer 200 from then on, as an
    # app's next poll would once.
    etags = _etags(pairs)
    polled = run_load("127.0.0.1", port, _requests(port, pairs, etags, False), connections=connections, seconds=seconds)
    full = run_load("127.0.0.1", port, _requests(port, pairs, None, False), connections=connections, seconds=seconds)
    return {"baseline": baseline, "etag": polled, "full": full, "sessions": len(pairs)}


def summary(result: dict[str, Any]) -> list[str]:
    def line(name: str, load: LoadResult) -> str:
        return f"  {name}: {load.summary()}"

    return [
        line("baseline (bare DRF view, JWT, one query)", result["baseline"]),
        line("live session, If-None-Match (304)      ", result["etag"]),
        line("live session, full answers (200)       ", result["full"]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live_session_bench")
    parser.add_argument("--drivers", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    os.environ.update({"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL})
    sys.path.insert(0, str(ROOT))
    print(f"fresh database {DATABASE_URL} ...", flush=True)
    fresh_database()
    import django

    django.setup()
    print(f"seeding {args.drivers} drivers with a running session ...", flush=True)
    pairs = seed(drivers=args.drivers)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    port = free_port()
    with gunicorn(port=port, workers=args.workers, threads=args.threads):
        print(f"live-session poll: 16 connections, {args.seconds:.0f} s per run ...", flush=True)
        result = bench_live_session(port=port, pairs=pairs, seconds=args.seconds)
    print("\n".join(summary(result)))


if __name__ == "__main__":
    main()
