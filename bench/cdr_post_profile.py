"""The CPU one CDR POST costs, measured in this process: `python -m bench.cdr_post_profile`.

`make bench` measures CDR ingest as throughput under gunicorn, which on a shared, noisy machine moves by a
fifth from one run to the next. This posts the bench's own CDRs (bench/charging_bench.py) through the WSGI
application the bench serves, in this one process and on one database connection, and reports per POST the
Python CPU (`time.process_time()`, every thread of the process: the request log's writer too) and the CPU of
the PostgreSQL backends on the database (utime + stime in /proc, so PostgreSQL must run on this machine).
CPU time, unlike throughput, barely depends on what else the machine is doing: compare two versions of the
code by running this a few times on each, alternating.

    python -m bench.cdr_post_profile --setup       # a fresh database (BENCH_DATABASE_URL) with CDRs stored
    python -m bench.cdr_post_profile               # 3 runs of 2,000 POSTs (new CDRs each run)
    python -m bench.cdr_post_profile --profile     # one run under cProfile, the top functions printed
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/emsp_perf")
os.environ.setdefault("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")

from .servers import BROKER_URL, DATABASE_URL, ROOT, fresh_database  # after the defaults above

PARTY = ("NL", "BIG")
LOCATIONS = 200
URL = "/ocpi/2.2.1/cdrs"
_TICKS = os.sysconf("SC_CLK_TCK")


def _setup_django() -> None:
    os.environ.update(
        {"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL, "CELERY_BROKER_URL": BROKER_URL}
    )
    # One connection for the whole measurement: a backend replaced mid-run (CONN_MAX_AGE) takes its CPU with it.
    os.environ.setdefault("CONN_MAX_AGE", "3600")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _partner_and_token() -> tuple[Any, str]:
    """The CPO the CDRs come from, with a connection token (made once, by `--setup`)."""
    from roaming.models import CredentialsToken, Partner, PartnerRole, hash_token, new_token

    partner = Partner.objects.filter(name="profile CPO").first()
    if partner is None:
        partner = Partner.objects.create(
            name="profile CPO",
            status=Partner.Status.REGISTERED,
            version="2.2.1",
            versions_url="https://profile-cpo.example.com/versions",
        )
        PartnerRole.objects.create(
            partner=partner, role="CPO", country_code=PARTY[0], party_id=PARTY[1], business_name="profile CPO"
        )
    token = new_token()  # a new one each run: only its hash is stored
    CredentialsToken.objects.create(
        partner=partner, kind=CredentialsToken.Kind.CONNECTION, token_hash=hash_token(token)
    )
    return partner, token


def _locations(partner: Any) -> list[tuple[str, str]]:
    """(location id, EVSE uid) of the locations the CDRs name, created by `--setup`."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from roaming.models import Evse, Location

    now = datetime.now(UTC)
    if not Location.objects.filter(partner=partner).exists():
        locations = Location.objects.bulk_create(
            Location(partner=partner, country_code=PARTY[0], party_id=PARTY[1], ocpi_id=f"LOC{n:05d}",
                     address="Benchstraat 1", city="Utrecht", country="NLD", latitude=Decimal("52.09"),
                     longitude=Decimal("5.12"), last_updated=now)
            for n in range(LOCATIONS)
        )  # fmt: skip
        Evse.objects.bulk_create(Evse(location=loc, uid=f"E{loc.ocpi_id}", last_updated=now) for loc in locations)
    return list(Evse.objects.filter(location__partner=partner).values_list("location__ocpi_id", "uid"))


def _requests(token: str, first: int, count: int) -> list[bytes]:
    """`count` CDR bodies as the bench posts them, numbered from `first`."""
    from roaming.models import Partner

    from .charging_bench import _cdr, _driver_tokens

    cards = _driver_tokens(1000)
    evses = _locations(Partner.objects.get(name="profile CPO"))
    bodies = []
    for n in range(first, first + count):
        location_id, evse_uid = evses[n % len(evses)]
        uid, contract_id = cards[n % len(cards)]
        bodies.append(json.dumps(_cdr(n, PARTY, uid, contract_id, {"id": location_id, "evse": evse_uid})).encode())
    return bodies


def _post(app: Callable[..., Iterable[bytes]], auth: str, body: bytes) -> str:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": URL,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": auth,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status: list[str] = []
    result = app(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return status[0]


def _backend_cpu() -> float:
    """Seconds of CPU the PostgreSQL backends on this database have used (those alive now)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [row[0] for row in cursor.fetchall()]
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / _TICKS


def _run(token: str, count: int, profile: cProfile.Profile | None = None) -> tuple[float, float]:
    """Python and PostgreSQL CPU per POST, in ms, over `count` new CDRs."""
    import base64

    from django.db import connection

    from roaming.models import Cdr
    from roaming.ocpi.requestlog import request_log

    from .wsgi import application

    auth = "Token " + base64.b64encode(token.encode()).decode()
    bodies = _requests(token, 1_000_000 + Cdr.objects.count(), count)
    _post(application, auth, bodies.pop())  # connection opened, token cached, statements warm
    request_log.flush()
    connection.ensure_connection()
    pg_before, py_before = _backend_cpu(), time.process_time()
    if profile:
        profile.enable()
    statuses: dict[str, int] = {}
    for body in bodies:
        status = _post(application, auth, body)
        statuses[status] = statuses.get(status, 0) + 1
    request_log.flush()
    if profile:
        profile.disable()
    py, pg = time.process_time() - py_before, _backend_cpu() - pg_before
    if set(statuses) != {"201 Created"}:
        raise RuntimeError(f"not every CDR was stored: {statuses}")
    return py * 1000 / len(bodies), pg * 1000 / len(bodies)


def setup(stored: int) -> None:
    """A fresh database holding `stored` CDRs (posted, then copied), with fresh planner statistics."""
    print(f"fresh database {DATABASE_URL} ...", flush=True)
    fresh_database()
    _setup_django()
    from django.db import connection

    from roaming.models import Cdr

    from .billing_bench import _copy_cdrs

    _, token = _partner_and_token()
    _run(token, 1000)
    sources = list(Cdr.objects.values_list("pk", flat=True))
    _copy_cdrs(sources, max(0, -(-(stored - len(sources)) // len(sources))))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    print(f"{Cdr.objects.count()} CDRs stored", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cdr_post_profile")
    parser.add_argument("--setup", action="store_true", help="drop and create the database first")
    parser.add_argument("--stored", type=int, default=50_000, help="CDRs the setup stores")
    parser.add_argument("--posts", type=int, default=2000, help="POSTs a run")
    parser.add_argument("--repeat", type=int, default=3, help="runs")
    parser.add_argument("--profile", action="store_true", help="one run under cProfile")
    args = parser.parse_args()
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()  # the pricing wake-ups of earlier runs, never consumed
    if args.setup:
        setup(args.stored)
    else:
        _setup_django()
    _, token = _partner_and_token()
    if args.profile:
        profile = cProfile.Profile(time.process_time)  # CPU time: waiting for PostgreSQL is not ours
        py, pg = _run(token, args.posts, profile)
        print(f"under cProfile: Python {py:.3f} ms, PostgreSQL {pg:.3f} ms a POST")
        stats = pstats.Stats(profile).strip_dirs()
        stats.sort_stats("tottime").print_stats(35)
        stats.sort_stats("cumulative").print_stats(60)
        return
    results = [_run(token, args.posts) for _ in range(args.repeat)]
    for py, pg in results:
        print(f"Python {py:.3f} ms, PostgreSQL {pg:.3f} ms a POST ({args.posts} POSTs)")
    pys, pgs = [r[0] for r in results], [r[1] for r in results]
    print(f"median: Python {statistics.median(pys):.3f} ms, PostgreSQL {statistics.median(pgs):.3f} ms")


if __name__ == "__main__":
    main()
