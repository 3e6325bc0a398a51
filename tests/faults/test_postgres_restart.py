"""PostgreSQL restarted under traffic (issue 19, item 4), on a private cluster: initdb into a temporary
directory, its own port and socket directory; the machine's PostgreSQL is never touched.

gunicorn serves the platform on that cluster while four CPO clients PUT locations (six EVSEs each) and PATCH
EVSE statuses. The cluster is stopped at once (`pg_ctl -m immediate`, as on a crash) and started again. While
it is down every answer is an OCPI envelope, HTTP 5xx with status 3000 (never an HTML page); afterwards the
answers are 2xx again; no location is stored with only part of its EVSEs; and the request log has every PUT.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import requests

from tests.billing.conftest import location_body
from tests.faults.procs import ROOT, PrivatePostgres, gunicorn, manage, server_env

EVSES = 6
CLIENTS = 4
PHASES = ("before", "down", "after")
SEED_PARTNER = """
from roaming.models import CredentialsToken, Partner, PartnerRole, hash_token, new_token
partner = Partner.objects.create(name="PG CPO", status="REGISTERED", version="2.2.1",
                                 versions_url="https://pg-cpo.example.com/versions")
PartnerRole.objects.create(partner=partner, role="CPO", country_code="BE", party_id="BEC", business_name="PG CPO")
token = new_token()
CredentialsToken.objects.create(partner=partner, kind="CONNECTION", token_hash=hash_token(token))
print(token)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[PrivatePostgres, dict[str, str], str]]:
    """The private cluster, migrated, with a registered CPO: (cluster, the platform's environment, its token)."""
    pg = PrivatePostgres()
    try:
        pg.start()
        pg.create_database("emsp")
        env = server_env(DATABASE_URL=pg.url("emsp"), REDIS_URL="", CELERY_BROKER_URL="", CONN_MAX_AGE="60")
        manage("migrate", "--noinput", env=env)
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED_PARTNER], cwd=ROOT, env=env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        yield pg, env, seeded.stdout.strip().splitlines()[-1]
    finally:
        pg.remove()


def _location(n: int, round_: int) -> dict[str, Any]:
    body = location_body(f"PG{n:02}-{round_:03}")
    template = body["evses"][0]
    body["evses"] = [
        {**template, "uid": f"E{k}", "evse_id": f"BE*BEC*E{n:02}{round_:03}{k}", "connectors": template["connectors"]}
        for k in range(EVSES)
    ]
    return body


def test_postgres_restarted_under_traffic_answers_envelopes_recovers_and_writes_no_half_location(
    cluster: tuple[PrivatePostgres, dict[str, str], str],
) -> None:
    pg, env, token = cluster
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    # phase, HTTP status, content type, OCPI status, and for a PATCH whether its location's PUT was stored
    answers: list[tuple[str, int, str, int | None, bool]] = []
    phase = {"name": "before"}
    lock = threading.Lock()
    down, up = threading.Event(), threading.Event()
    done = Counter[str]()

    with gunicorn(env, workers=2, threads=4) as base_url:

        def client(n: int) -> None:
            session = requests.Session()
            session.headers.update(auth)
            for round_ in range(60):
                if round_ == 20:
                    down.wait(120)
                if round_ == 40:
                    up.wait(120)
                body = _location(n, round_)
                url = f"{base_url}/ocpi/2.2.1/locations/BE/BEC/{body['id']}"
                put_stored = True
                for method, path, payload in (
                    ("PUT", url, body),
                    ("PATCH", f"{url}/E1", {"status": "CHARGING", "last_updated": "2031-01-01T00:00:00Z"}),
                ):
                    reply = session.request(method, path, json=payload, timeout=60)
                    try:
                        code = json.loads(reply.content)["status_code"]
                    except (ValueError, KeyError, TypeError):
                        code = None
                    unknown_location = method == "PATCH" and not put_stored
                    if method == "PUT":
                        put_stored = reply.status_code < 300
                    with lock:
                        answers.append(
                            (
                                phase["name"],
                                reply.status_code,
                                reply.headers.get("Content-Type", ""),
                                code,
                                unknown_location,
                            )
                        )
                        done[phase["name"]] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        _wait(lambda: done["before"] >= CLIENTS * 40)
        pg.stop("immediate")
        phase["name"] = "down"
        down.set()
        _wait(lambda: done["down"] >= CLIENTS * 20)
        pg.start()
        phase["name"] = "after"
        up.set()
        for thread in threads:
            thread.join(300)

    by_phase = {name: Counter((status, code) for p, status, _, code, _ in answers if p == name) for name in PHASES}
    assert {ctype.split(";")[0] for _, _, ctype, _, _ in answers} == {"application/json"}  # never an HTML page
    assert set(by_phase["before"]) <= {(200, 1000), (201, 1000)}
    assert by_phase["down"][(500, 3000)] > 0
    # Clients keep sending while the cluster starts again: a PUT refused just before it is up is followed by a
    # PATCH that the database, up by then, answers "unknown location" (404, 2001). That is the right answer, and
    # the only case where it may come.
    assert set(by_phase["down"]) <= {(200, 1000), (201, 1000), (500, 3000), (404, 2001)}
    assert all(unknown for _, status, _, code, unknown in answers if (status, code) == (404, 2001))
    last = [a for a in answers if a[0] == "after"][-CLIENTS * 20 :]
    assert {(status, code) for _, status, _, code, _ in last} <= {(200, 1000), (201, 1000)}  # recovered
    with psycopg.connect(pg.url("emsp")) as conn:
        counts = conn.execute(
            "SELECT l.ocpi_id, count(e.id) FROM roaming_location l LEFT JOIN roaming_evse e ON e.location_id = l.id"
            " GROUP BY l.ocpi_id"
        ).fetchall()
        logged = conn.execute("SELECT count(*) FROM roaming_ocpirequestlog WHERE method = 'PUT'").fetchone()
    assert counts
    assert {n for _, n in counts} == {EVSES}  # no location with only part of its EVSEs
    # Every PUT is in the request log, those answered while the database was down included: their rows waited
    # in the writer's memory and went with the first flush after the restart (or at the workers' exit).
    assert logged == (CLIENTS * 60,)
    print("faults: postgres restart:", {name: dict(c) for name, c in by_phase.items()}, f"{len(counts)} locations")


def _wait(condition: Any, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "traffic did not progress"
        time.sleep(0.02)
