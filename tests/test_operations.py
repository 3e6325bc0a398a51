"""Operations (issue 19, item 8): /metrics for Prometheus, structured logs without tokens, /healthz naming what
is down. Real HTTP through Django's test client, the real database and, for the multi-process counters, real
processes."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as DjangoSettings

from billing.models import CdrPrice, Dispute
from emsp.lib import metrics
from emsp.lib.logs import REDACTED, redact
from emsp.models import OutboxTask
from roaming.models import Command, SyncRun
from tests.billing.factories import a_cdr, a_partner
from tests.conftest import ROOT, closed_port_url
from tests.roaming.conftest import OcpiTestClient, registered_partner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts(settings: DjangoSettings) -> Iterator[None]:
    settings.METRICS_DIR = ""
    metrics.reset()
    yield
    metrics.reset()


def _samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value, for every sample line of an exposition."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            samples[series] = float(value)
    return samples


# --- /metrics: who may read it ------------------------------------------------------------------------------


def test_metrics_are_not_public(client: Client, settings: DjangoSettings) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    non_staff = get_user_model().objects.create_user("driver", "d@example.com", "pw")
    client.force_login(non_staff)
    assert client.get("/metrics").status_code == 403


def test_metrics_answer_the_bearer_of_the_token(client: Client, settings: DjangoSettings) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    response = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE emsp_outbox_due_tasks gauge" in response.content.decode()


def test_without_a_token_only_staff_read_the_metrics(admin_client: Client, settings: DjangoSettings) -> None:
    settings.METRICS_TOKEN = ""
    assert admin_client.get("/metrics").status_code == 200
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


# --- /metrics: what it says --------------------------------------------------------------------------------


def test_ocpi_requests_are_counted_per_module_partner_and_status(admin_client: Client, client: Client) -> None:
    _partner, token = registered_partner("Metered CPO", [("BE", "BEC")])
    ocpi = OcpiTestClient(client, token)
    for _ in range(2):
        assert ocpi.get("/ocpi/2.2.1/locations/BE/BEC/UNKNOWN").http_status == 404
    assert client.get("/ocpi/2.2.1/locations/BE/BEC/UNKNOWN").status_code == 401  # no token: no partner

    samples = _samples(admin_client.get("/metrics").content.decode())
    known = 'direction="in",module="locations",partner="Metered CPO"'
    assert samples[f'emsp_ocpi_requests_total{{{known},status="404"}}'] == 2
    assert samples['emsp_ocpi_requests_total{direction="in",module="locations",partner="-",status="401"}'] == 1
    assert samples[f"emsp_ocpi_request_duration_seconds_count{{{known}}}"] == 2
    assert samples[f'emsp_ocpi_request_duration_seconds_bucket{{{known},le="+Inf"}}'] == 2
    assert samples[f"emsp_ocpi_request_duration_seconds_sum{{{known}}}"] > 0


def test_gauges_are_read_from_the_database_at_scrape_time(admin_client: Client) -> None:
    partner, _ = registered_partner("Lagging CPO", [("NL", "LAG")])
    run = SyncRun.objects.create(partner=partner, module="locations", mode="FULL", status=SyncRun.Status.SUCCEEDED)
    SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(minutes=20))
    OutboxTask.objects.create(task="roaming.push_tokens", run_after=timezone.now() - timedelta(minutes=3))
    other = a_partner("Billing CPO")
    cdr = a_cdr(other, None)
    CdrPrice.objects.create(cdr=cdr)  # PENDING, as the CDR receiver stores it: the pricing backlog
    Dispute.objects.create(
        cdr=cdr, partner=other, currency="EUR", amount_at_stake="1.50", status="OPEN", opened_at=timezone.now()
    )
    Command.objects.create(partner=partner, type="START_SESSION", result=Command.Result.TIMEOUT)
    Command.objects.create(partner=partner, type="START_SESSION", result=Command.Result.ACCEPTED)

    samples = _samples(admin_client.get("/metrics").content.decode())
    lag = samples['emsp_sync_lag_seconds{module="locations",partner="Lagging CPO"}']
    assert 20 * 60 <= lag < 25 * 60
    assert samples["emsp_outbox_due_tasks"] == 1
    assert 180 <= samples["emsp_outbox_oldest_due_seconds"] < 240
    assert samples["emsp_pricing_backlog_cdrs"] == 1
    assert samples['emsp_disputes_open{currency="EUR",partner="Billing CPO"}'] == 1
    assert samples['emsp_disputes_open_amount{currency="EUR",partner="Billing CPO"}'] == 1.5
    assert samples['emsp_command_timeouts_total{partner="Lagging CPO"}'] == 1


def test_label_values_are_escaped() -> None:
    metrics.inc("emsp_test_total", {"partner": 'A "quoted"\\ name\nwith a line'})
    assert 'emsp_test_total{partner="A \\"quoted\\"\\\\ name\\nwith a line"} 1' in metrics.exposition()


_COUNT_IN_A_PROCESS = """
import django, sys
django.setup()
from emsp.lib import metrics
for _ in range(int(sys.argv[1])):
    metrics.inc("emsp_test_total", {"kind": "shared"})
metrics.observe("emsp_test_seconds", {"kind": "shared"}, 0.02)
"""


def test_with_a_metrics_dir_a_scrape_adds_up_every_process(settings: DjangoSettings, tmp_path: Path) -> None:
    """gunicorn runs several workers: whichever answers the scrape reports the counts of all of them."""
    env = {"DJANGO_SETTINGS_MODULE": "emsp.settings_test", "METRICS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for count in (3, 4):  # two processes that have ended (their counts stay)
        subprocess.run([sys.executable, "-c", _COUNT_IN_A_PROCESS, str(count)], cwd=ROOT, env=env, check=True)
    settings.METRICS_DIR = str(tmp_path)
    metrics.inc("emsp_test_total", {"kind": "shared"})  # and this one

    samples = _samples(metrics.exposition())
    assert samples['emsp_test_total{kind="shared"}'] == 8
    assert samples['emsp_test_seconds_bucket{kind="shared",le="0.025"}'] == 2
    assert samples['emsp_test_seconds_count{kind="shared"}'] == 2
    assert len(list(tmp_path.glob("*.json"))) == 3


# --- structured logs ---------------------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[Callable[[], list[dict[str, object]]]]:
    """The project's LOGGING with the json format, into a buffer; the records logged, parsed."""
    stream = io.StringIO()
    config = json.loads(json.dumps(settings.LOGGING))
    config["handlers"]["console"].update({"formatter": "json", "stream": "ext://sys.stdout"})
    logging.config.dictConfig(config)
    root = logging.getLogger()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logging.config.dictConfig(settings.LOGGING)


def test_a_log_record_is_one_json_line(json_log: Callable[[], list[dict[str, object]]]) -> None:
    logging.getLogger("roaming.ocpi").warning("outside any %s", "request")
    [record] = json_log()
    assert set(record) == {"timestamp", "level", "logger", "message", "request_id", "partner"}
    assert (record["level"], record["logger"], record["message"]) == ("WARNING", "roaming.ocpi", "outside any request")
    assert (record["request_id"], record["partner"]) == ("", "")
    assert str(record["timestamp"]).endswith("+00:00")


def test_records_logged_in_an_ocpi_request_carry_its_id_and_partner(
    client: Client, json_log: Callable[[], list[dict[str, object]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from roaming.ocpi.views import versions

    _partner, token = registered_partner("Logged CPO", [("BE", "BEC")])

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(versions.VersionsView, "get", crash)
    reply = OcpiTestClient(client, token).get("/ocpi/versions", headers={"X-Request-ID": "partner-req-42"})
    assert reply.http_status == 500

    crash_record = next(r for r in json_log() if str(r["message"]).startswith("OCPI GET /ocpi/versions failed"))
    assert crash_record["request_id"] == "partner-req-42"
    assert crash_record["partner"] == "Logged CPO"
    assert crash_record["level"] == "ERROR"
    assert "RuntimeError: a bug" in str(crash_record["exc_info"])


def test_other_requests_get_a_request_id_of_their_own(client: Client) -> None:
    first, second = client.get("/healthz"), client.get("/healthz", headers={"X-Request-ID": "lb-7"})
    assert len(first["X-Request-ID"]) == 36
    assert second["X-Request-ID"] == "lb-7"


def test_tokens_never_reach_the_log(json_log: Callable[[], list[dict[str, object]]]) -> None:
    logger = logging.getLogger("roaming.ocpi.client")
    logger.warning("GET %s with %s", "https://cpo.example.com/ocpi", {"Authorization": "Token c2VjcmV0LXRva2Vu"})
    logger.warning("headers: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig")
    logger.info('credentials body {"token": "plain-secret-token", "url": "https://cpo"}')
    try:
        raise ValueError("refused Authorization: Token c2VjcmV0LXRva2Vu")
    except ValueError:
        logger.exception("push failed")

    text = json.dumps(json_log())
    for secret in ("c2VjcmV0LXRva2Vu", "eyJhbGciOiJIUzI1NiJ9", "plain-secret-token"):
        assert secret not in text
    assert text.count(REDACTED) == 5  # the traceback has the token twice: in the source line and the message
    assert "https://cpo.example.com/ocpi" in text  # the rest of the message stays


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Token abcd1234efgh", f"Authorization: Token {REDACTED}"),
        ("{'HTTP_AUTHORIZATION': 'Bearer abc.def.ghi'}", f"{{'HTTP_AUTHORIZATION': 'Bearer {REDACTED}'}}"),
        ("curl -H 'Authorization: Token abcd1234'", f"curl -H 'Authorization: Token {REDACTED}'"),
        ("a Token of appreciation", "a Token of appreciation"),  # short words are not tokens
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


# --- /healthz ------------------------------------------------------------------------------------------------


def test_healthz_names_the_broker_when_it_is_down(client: Client, broker_at: Callable[[str], None]) -> None:
    broker_at(closed_port_url())
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["database"] is True
    assert body["broker"] is False
    assert "Connection refused" in body["errors"]["broker"] or "111" in body["errors"]["broker"]


def test_healthz_names_an_outbox_nobody_sends(client: Client, settings: DjangoSettings) -> None:
    settings.HEALTH_OUTBOX_MAX_AGE_SECONDS = 600
    OutboxTask.objects.create(task="roaming.push_tokens", run_after=timezone.now() - timedelta(minutes=5))
    assert client.get("/healthz").status_code == 200  # late, within the limit
    OutboxTask.objects.create(task="roaming.push_tokens", run_after=timezone.now() - timedelta(minutes=11))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["outbox"]
    assert "the oldest due task has waited" in response.json()["errors"]["outbox"]
