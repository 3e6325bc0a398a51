"""Commands the CPO certainly did not get are sent again (roaming/services/commands.py): connection refused,
HTTP 503, HTTP 429 with its Retry-After, through the outbox, the same body each time, within the send window;
anything that may have reached the charger (read timeout, a connection lost after the request, HTTP 500, 502,
504) fails at once. The CPO is a scripted HTTP server on loopback.

The outbox's tasks are run the way a worker runs them, at their `run_after` (`_run_outbox`): the tests pass the
time instead of waiting for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

import pytest
from pytest_django.fixtures import Settings as DjangoSettings

from drivers.models import Token
from drivers.services import token_issue
from emsp.metrics import database_gauges
from emsp.models import OutboxTask
from roaming.models import Command, Partner, PartnerEndpoint
from roaming.selectors import Outcome, command_outcome, command_retryable
from roaming.services.commands import (
    CommandRefused,
    command_result_received,
    command_retry,
    command_send,
    command_start_session,
    commands_send_due,
    commands_time_out,
)
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient
from tests.roaming.fakecpo import make_driver

Answer = tuple[int, dict[str, Any], dict[str, str]]  # HTTP status, OCPI document, headers

ACCEPTED: Answer = (200, {"data": {"result": "ACCEPTED", "timeout": 30}, "status_code": 1000}, {})
UNAVAILABLE: Answer = (503, {"status_code": 3000, "status_message": "Restarting"}, {})
HOLD, CLOSE = "hold", "close"  # hold the answer until released; close the connection without one


class ScriptedCpo(ThreadingHTTPServer):
    """A CPO's commands Receiver answering each POST with the next entry of `script` (then ACCEPTED), and
    keeping every body it received."""

    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.script: list[Any] = []
        self.posts: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.holding = threading.Event()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ocpi/2.2.1/commands"

    def serve(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedCpo

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.posts.append(body)
            entry = self.server.script.pop(0) if self.server.script else ACCEPTED
        if entry == CLOSE:
            self.close_connection = True
            self.connection.close()
            return
        if entry == HOLD:
            self.server.holding.set()
            self.server.release.wait(10)
            entry = ACCEPTED
        status, document, headers = entry
        payload = json.dumps({**document, "timestamp": "2026-12-03T10:00:00Z"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ScriptedCpo]:
    cpo = ScriptedCpo()
    thread = cpo.serve()
    yield cpo
    cpo.stop()
    thread.join()


@pytest.fixture
def partner(cpo: tuple[Partner, str], ocpi: OcpiTestClient, server: ScriptedCpo) -> Partner:
    """The example CPO, its location LOC1, taking commands at the scripted server."""
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", example("locations/location_example.json")).http_status == 201
    partner = cpo[0]
    partner.outgoing_token = "token-we-use-at-the-cpo"
    partner.save()
    PartnerEndpoint.objects.create(partner=partner, module="commands", role="RECEIVER", url=server.url)
    return partner


@pytest.fixture
def card(db: None) -> Token:
    return token_issue(driver=make_driver(), uid="04A1B2C3")


def _outbox() -> list[tuple[list[Any], datetime]]:
    return [(row.args, row.run_after) for row in OutboxTask.objects.filter(task="roaming.command_send")]


def _run_outbox(not_before: datetime | None = None) -> int:
    """Run the command sends waiting in the outbox one by one, each at its `run_after` (or `not_before`, when
    the test's clock is ahead of the real one), as a worker does after the countdown; what they enqueue runs
    too. Returns how many ran."""
    ran = 0
    while row := OutboxTask.objects.filter(task="roaming.command_send").order_by("pk").first():
        row.delete()
        command_id, attempt = row.args
        at = max(row.run_after, not_before) if not_before else row.run_after
        command_send(command_id=command_id, attempt=attempt, now=at)
        ran += 1
    return ran


def _refresh(command: Command) -> Command:
    command.refresh_from_db()
    return command


# --- sent again --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_503_503_then_accepted_is_one_command_posted_three_times_with_the_same_body(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE, UNAVAILABLE]
    command = command_start_session(card, "LOC1", "3256", "1")

    assert (command.state, command.send_attempts, command.response) == ("PENDING", 1, "")
    assert "HTTP 503" in command.error
    assert command.next_attempt_at is not None
    assert command.next_attempt_at - command.updated_at == timedelta(seconds=2)  # SEND_RETRY_DELAYS[0]
    assert command_outcome(command) == Outcome("pending", "sending", "Sending to the charger's operator, attempt 2.")
    ((args, run_after),) = _outbox()  # written with the command's update, in its transaction
    assert args == [command.pk, 2]
    assert run_after >= command.next_attempt_at - timedelta(seconds=1)

    assert _run_outbox() == 2
    command = _refresh(command)
    assert (command.state, command.response, command.send_attempts, command.next_attempt_at) == (
        "SENT",
        "ACCEPTED",
        3,
        None,
    )
    assert Command.objects.count() == 1
    assert len(server.posts) == 3
    assert server.posts[0] == server.posts[1] == server.posts[2] == command.request
    assert server.posts[0]["response_url"] == command.response_url
    assert server.posts[0]["authorization_reference"] == command.authorization_reference
    # The result deadline comes from the CPO's answer to the attempt that reached it.
    assert command.responded_at is not None
    assert command.deadline == command.responded_at + timedelta(seconds=30)


@pytest.mark.django_db
def test_a_429_waits_as_long_as_its_retry_after_says(partner: Partner, server: ScriptedCpo, card: Token) -> None:
    server.script = [(429, {"status_code": 2000}, {"Retry-After": "7"})]
    command = command_start_session(card, "LOC1")
    assert command.next_attempt_at is not None
    assert command.next_attempt_at - command.updated_at == timedelta(seconds=7)
    ((_, run_after),) = _outbox()
    assert run_after >= command.next_attempt_at - timedelta(seconds=1)

    early = command.next_attempt_at - timedelta(seconds=1)
    assert command_send(command_id=command.pk, attempt=2, now=early) is None  # not due: nothing sent
    assert len(server.posts) == 1
    sent = command_send(command_id=command.pk, attempt=2, now=command.next_attempt_at)
    assert sent is not None
    assert (sent.state, sent.response, sent.send_attempts) == ("SENT", "ACCEPTED", 2)
    assert len(server.posts) == 2


@pytest.mark.django_db
def test_a_cpo_refusing_connections_gets_the_command_once_it_is_back(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    port = server.server_address[1]
    server.stop()  # nothing listens on the port: connections are refused
    command = command_start_session(card, "LOC1")
    assert (command.state, command.send_attempts) == ("PENDING", 1)
    assert "ConnectionError" in command.error
    assert command.next_attempt_at is not None

    back = ScriptedCpo(port)
    thread = back.serve()
    try:
        assert _run_outbox() == 1
        assert len(back.posts) == 1  # the one POST that reached the CPO
        assert back.posts[0] == command.request
        assert _refresh(command).state == "SENT"
    finally:
        back.stop()
        thread.join()


# --- giving up ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_past_the_window_the_command_fails_with_the_last_error(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    assert command.send_until is not None
    assert command.deadline is not None
    assert command.send_until - command.created_at <= timedelta(seconds=60)
    assert command.send_until <= command.deadline

    # The task comes after the window (a worker backlog): no POST, FAILED.
    failed = command_send(command_id=command.pk, attempt=2, now=command.send_until)
    assert failed is not None
    assert failed.state == "FAILED"
    assert failed.error.startswith("Not delivered within 60 s, 1 attempt: POST ")
    assert "HTTP 503" in failed.error
    assert len(server.posts) == 1
    assert command_outcome(failed).reason == "operator_unreachable"
    assert command_retryable(failed)


@pytest.mark.django_db
def test_an_attempt_that_would_start_after_the_window_is_not_waited_for(
    partner: Partner, server: ScriptedCpo, card: Token, settings: DjangoSettings
) -> None:
    settings.OCPI_COMMAND_SEND_WINDOW_SECONDS = 4  # attempt 2 after 2 s fits, attempt 3 after 5 more does not
    server.script = [UNAVAILABLE, UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    assert _run_outbox() == 1
    command = _refresh(command)
    assert (command.state, command.send_attempts, len(server.posts)) == ("FAILED", 2, 2)
    assert command.error.startswith("Not delivered within 4 s, 2 attempts: ")
    assert _outbox() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        HOLD,  # read timeout: the CPO had the request
        CLOSE,  # connection lost after the request went out
        (500, {"status_code": 3000}, {}),
        (502, {"status_code": 3000}, {}),
        (504, {"status_code": 3000}, {}),
        (200, {"status_code": 2001, "status_message": "Unknown location"}, {}),
        (200, {"data": {"result": "MAYBE"}, "status_code": 1000}, {}),
    ],
    ids=["read-timeout", "connection-lost", "http-500", "http-502", "http-504", "ocpi-2001", "invalid-response"],
)
def test_what_may_have_reached_the_charger_fails_at_once(
    partner: Partner, server: ScriptedCpo, card: Token, settings: DjangoSettings, answer: Any
) -> None:
    settings.OCPI_CLIENT_TIMEOUT = 0.5  # the held answer costs the test half a second
    server.script = [answer]
    command = command_start_session(card, "LOC1")
    assert (command.state, command.next_attempt_at, command.send_attempts) == ("FAILED", None, 1)
    assert _outbox() == []
    assert commands_send_due(now=command.created_at + timedelta(seconds=30)).enqueued == 0
    assert len(server.posts) == 1


# --- once per attempt --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_result_that_comes_while_the_command_waits_ends_the_resending(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    assert command_result_received(command=command, result="ACCEPTED").stored
    assert command.next_attempt_at is not None
    assert command_send(command_id=command.pk, attempt=2, now=command.next_attempt_at) is None
    assert commands_send_due(now=command.next_attempt_at + timedelta(seconds=10)).enqueued == 0
    command = _refresh(command)
    assert (command.state, command.result, command.next_attempt_at) == ("DONE", "ACCEPTED", None)
    assert len(server.posts) == 1


@pytest.mark.django_db(transaction=True)
def test_an_attempt_is_posted_once_however_often_its_task_runs(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE, HOLD]
    command = command_start_session(card, "LOC1")
    due = command.next_attempt_at
    assert due is not None
    outcomes: list[Command | None] = []
    first = threading.Thread(target=lambda: outcomes.append(command_send(command_id=command.pk, attempt=2, now=due)))
    first.start()
    assert server.holding.wait(10)  # attempt 2 is at the CPO
    # The same task again (a redelivery, a worker killed and its task run again) and the next one early.
    assert command_send(command_id=command.pk, attempt=2, now=due) is None
    assert command_send(command_id=command.pk, attempt=3, now=due + timedelta(seconds=30)) is None
    assert commands_send_due(now=due + timedelta(seconds=10)).enqueued == 0  # in flight: not due
    assert _refresh(command).state == "PENDING"
    assert command_outcome(command).message == "Sending to the charger's operator, attempt 2."
    server.release.set()
    first.join(10)
    assert outcomes
    assert outcomes[0] is not None
    assert outcomes[0].state == "SENT"
    assert command_send(command_id=command.pk, attempt=2, now=due) is None  # after its work is done
    assert len(server.posts) == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_with_the_same_attempt_post_it_once(partner: Partner, server: ScriptedCpo, card: Token) -> None:
    from django.db import connections

    server.script = [UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    due = command.next_attempt_at
    assert due is not None
    start = threading.Barrier(2)
    outcomes: list[Command | None] = []

    def worker() -> None:
        try:
            start.wait(10)
            outcomes.append(command_send(command_id=command.pk, attempt=2, now=due))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(o is None for o in outcomes) == [False, True]
    assert len(server.posts) == 2  # the inline attempt and one attempt 2
    assert _refresh(command).state == "SENT"


# --- the sweeper, the timeout, the driver ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sweeper_enqueues_an_attempt_whose_task_was_lost(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    OutboxTask.objects.all().delete()  # the broker lost it
    due = command.next_attempt_at
    assert due is not None
    assert commands_send_due(now=due).enqueued == 0  # left to its own task for a few seconds
    assert commands_send_due(now=due + timedelta(seconds=5)).enqueued == 1
    assert [args for args, _ in _outbox()] == [[command.pk, 2]]
    assert _run_outbox(not_before=due + timedelta(seconds=5)) == 1
    assert _refresh(command).state == "SENT"
    assert len(server.posts) == 2


@pytest.mark.django_db
def test_the_sweeper_fails_what_its_window_left_behind_and_the_timeout_leaves_it_alone(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    assert command.deadline is not None
    assert command.send_until is not None
    assert commands_time_out(now=command.deadline + timedelta(seconds=1)) == 0  # not delivered: no TIMEOUT
    assert _refresh(command).state == "PENDING"
    outcome = commands_send_due(now=command.send_until)
    assert (outcome.enqueued, outcome.failed) == (0, 1)
    command = _refresh(command)
    assert (command.state, command.result) == ("FAILED", "")
    assert "HTTP 503" in command.error


@pytest.mark.django_db
def test_a_command_being_sent_is_not_retried_by_hand_and_is_counted(
    partner: Partner, server: ScriptedCpo, card: Token
) -> None:
    server.script = [UNAVAILABLE]
    command = command_start_session(card, "LOC1")
    assert not command_retryable(command)
    with pytest.raises(CommandRefused, match="still being sent"):
        command_retry(command=command)
    gauges = {name: value for name, labels, value in database_gauges() if not labels}
    assert gauges["emsp_commands_sending"] == 1
    assert urlparse(command.response_url).path.endswith(str(command.reference))
