"""Charging through the driver API, with the CPO simulator behind it over real HTTP: start, the command's state,
the live session with ETags, stop, the CDR and its charge; refusals, timeouts, retries, throttling and
another driver's ids."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from pytest_django.fixtures import Settings as DjangoSettings
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from api.views import charging
from billing.models import SessionCharge
from cposim import Simulator
from drivers.models import Driver, Token
from drivers.services import token_issue
from roaming.models import Command, Evse, Partner
from roaming.services.commands import command_send, commands_time_out
from tests.api.conftest import signed_in
from tests.billing.factories import a_driver, a_partner, a_plan
from tests.roaming.conftest import running_session

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ann(db: None) -> Driver:
    """Ann on the default plan (cost plus 10 %), with an app token."""
    a_plan(is_default=True, markup_percent=Decimal("10"))
    driver = a_driver("Ann Smit")
    token_issue(driver=driver, uid="APP-ANN", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)
    return driver


@pytest.fixture
def app(ann: Driver) -> APIClient:
    return signed_in(ann)


def _evse(sim: Simulator, capability: str = "REMOTE_START_STOP_CAPABLE", *, without: str = "") -> Evse:
    """An available EVSE of the simulator with `capability` (and not `without`), as we hold it."""
    for location_id in sim.location_ids():
        for evse in sim.location(location_id)["evses"]:
            capabilities = evse.get("capabilities", [])
            if evse["status"] == "AVAILABLE" and capability in capabilities and without not in capabilities:
                return Evse.objects.select_related("location").get(location__ocpi_id=location_id, uid=evse["uid"])
    raise AssertionError(f"no available EVSE with {capability}")


def _start(app: APIClient, evse: Evse, key: str = "") -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return app.post(
        "/api/v1/charging/start", {"location_id": evse.location_id, "evse_uid": evse.uid}, format="json", **headers
    )


def _poll(app: APIClient, url: str, etag: str = "") -> Any:
    headers: dict[str, Any] = {"HTTP_IF_NONE_MATCH": etag} if etag else {}
    return app.get(url, **headers)


def test_start_follow_stop_and_see_the_charge(app: APIClient, ann: Driver, cpo: Partner, sim: Simulator) -> None:
    evse = _evse(sim)
    started = _start(app, evse, key="start-1")
    assert started.status_code == 202, started.json()
    command = started.json()
    assert (command["action"], command["state"], command["evse_uid"]) == ("start", "pending", evse.uid)
    # A retry over a flaky network: the first answer again, no second command to the CPO.
    again = _start(app, evse, key="start-1")
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (202, command, "true")
    assert len(sim.commands()) == 1

    sim.flush()
    followed = app.get(f"/api/v1/charging/commands/{command['id']}")
    assert followed.status_code == 200
    accepted = followed.json()
    assert (accepted["state"], accepted["reason"]) == ("accepted", None)
    assert accepted["session_id"] is not None
    the_command = Command.objects.get(reference=command["id"])
    assert the_command.token is not None
    assert (the_command.token.type, the_command.token.driver) == ("APP_USER", ann)

    url = f"/api/v1/charging/sessions/{accepted['session_id']}"
    live = _poll(app, url)
    assert live.status_code == 200
    assert live.json()["status"] == "charging"
    etag = live.headers["ETag"]
    unchanged = _poll(app, url, etag)
    assert (unchanged.status_code, unchanged.content) == (304, b"")

    sim.advance(900)
    sim.flush()
    moved = _poll(app, url, etag)
    assert moved.status_code == 200
    session = moved.json()
    assert Decimal(session["energy_kwh"]) > 0
    assert session["duration_seconds"] == 900
    cost = session["cost"]
    assert cost is not None, session["cost_note"]
    assert cost["plan"] == "Pay as you go"
    assert [line["kind"] for line in cost["lines"]] == ["cost", "markup"]
    assert Decimal(cost["incl_vat"]) == Decimal(cost["excl_vat"]) + Decimal(cost["vat"])
    assert Decimal(cost["incl_vat"]) > 0

    stop = app.post(f"{url}/stop", HTTP_IDEMPOTENCY_KEY="stop-1")
    assert stop.status_code == 202, stop.json()
    assert stop.json()["action"] == "stop"
    sim.flush()
    stopped = app.get(f"/api/v1/charging/commands/{stop.json()['id']}").json()
    assert (stopped["state"], stopped["session_id"]) == ("accepted", accepted["session_id"])
    finished = _poll(app, url).json()
    assert (finished["status"], finished["is_live"]) == ("finished", False)
    # Stopping what is not running any more is refused here, without a command.
    assert app.post(f"{url}/stop").json()["error"]["code"] == "session_not_running"

    # The CDR came and was priced: what the driver pays, under their plan, with VAT.
    charge = SessionCharge.objects.get(driver=ann)
    history = app.get("/api/v1/history/sessions").json()["results"]
    assert [(s["id"], s["status"], s["charge_ids"]) for s in history] == [
        (accepted["session_id"], "finished", [charge.pk])
    ]
    listed = app.get("/api/v1/history/charges").json()["results"]
    assert [c["id"] for c in listed] == [charge.pk]
    assert listed[0]["session_id"] == accepted["session_id"]
    assert listed[0]["incl_vat"] == history[0]["cost"]["incl_vat"]
    assert Decimal(listed[0]["incl_vat"]) > Decimal(listed[0]["excl_vat"]) > 0
    assert listed[0]["vat_rate"] == "21"
    assert [line["kind"] for line in listed[0]["lines"]] == ["cost", "markup"]


def test_a_start_the_operator_refuses_is_a_partner_error(app: APIClient, cpo: Partner, sim: Simulator) -> None:
    sim.command_responses["START_SESSION"] = "REJECTED"
    reply = _start(app, _evse(sim), key="refused")
    assert reply.status_code == 502
    assert reply.json()["error"] == {
        "type": "partner_error",
        "code": "refused",
        "message": "The charger's operator refused.",
    }
    # Not stored as the key's answer: the app may try again with the same key.
    sim.command_responses.pop("START_SESSION")
    assert _start(app, _evse(sim), key="refused").status_code == 202


def test_a_charger_that_refuses_later_is_a_rejected_command(app: APIClient, cpo: Partner, sim: Simulator) -> None:
    sim.command_results["START_SESSION"] = "EVSE_OCCUPIED"
    command = _start(app, _evse(sim)).json()
    sim.flush()
    state = app.get(f"/api/v1/charging/commands/{command['id']}").json()
    assert (state["state"], state["reason"], state["session_id"]) == ("rejected", "charger_occupied", None)


def test_a_charger_that_never_answers_times_out(app: APIClient, cpo: Partner, sim: Simulator) -> None:
    sim.command_results["START_SESSION"] = "NONE"
    command = _start(app, _evse(sim)).json()
    sim.flush()
    url = f"/api/v1/charging/commands/{command['id']}"
    pending = app.get(url)
    assert pending.json()["state"] == "pending"
    deadline = Command.objects.get(reference=command["id"]).deadline
    assert deadline is not None
    assert commands_time_out(now=deadline + timedelta(seconds=1)) == 1
    timed_out = app.get(url, HTTP_IF_NONE_MATCH=pending.headers["ETag"])
    assert timed_out.status_code == 200
    assert (timed_out.json()["state"], timed_out.json()["reason"]) == ("timed_out", "charger_timeout")


def test_an_operator_that_does_not_answer_the_start_in_time_is_a_504(
    app: APIClient, cpo: Partner, sim: Simulator, settings: DjangoSettings
) -> None:
    settings.OCPI_CLIENT_TIMEOUT = 0.2
    sim.set_chaos(timeout_share=1.0, timeout_hold_seconds=1.0)
    reply = _start(app, _evse(sim))
    sim.set_chaos(timeout_share=0.0)
    assert reply.status_code == 504
    assert (reply.json()["error"]["type"], reply.json()["error"]["code"]) == ("partner_timeout", "operator_timeout")


def test_a_start_the_operator_could_not_take_is_sending_until_it_is_delivered(
    app: APIClient, cpo: Partner, sim: Simulator
) -> None:
    evse = _evse(sim)
    sim.go_down()  # connections refused: the operator certainly got nothing
    started = _start(app, evse)
    assert started.status_code == 202, started.json()
    sending = started.json()
    assert (sending["state"], sending["reason"]) == ("pending", "sending")
    assert sending["message"] == "Sending to the charger's operator, attempt 2."
    url = f"/api/v1/charging/commands/{sending['id']}"
    assert app.get(url).json() == sending

    sim.come_back()
    command = Command.objects.get(reference=sending["id"])
    assert command.next_attempt_at is not None
    assert command_send(command_id=command.pk, attempt=2, now=command.next_attempt_at) is not None  # the worker's
    assert (app.get(url).json()["state"], app.get(url).json()["reason"]) == ("pending", None)
    sim.flush()
    assert app.get(url).json()["state"] == "accepted"
    assert len(sim.commands()) == 1


def test_reserve_where_the_charger_is_reservable_and_cancel(app: APIClient, cpo: Partner, sim: Simulator) -> None:
    expires = (timezone.now() + timedelta(minutes=30)).isoformat()
    plain = _evse(sim, without="RESERVABLE")
    refused = app.post(
        "/api/v1/charging/reservations",
        {"location_id": plain.location_id, "evse_uid": plain.uid, "expires_at": expires},
        format="json",
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "not_reservable")
    assert sim.commands() == []

    evse = _evse(sim, "RESERVABLE")
    reserved = app.post(
        "/api/v1/charging/reservations", {"evse_id": evse.evse_id, "expires_at": expires}, format="json"
    )
    assert reserved.status_code == 202, reserved.json()
    sim.flush()
    reservation = app.get(f"/api/v1/charging/commands/{reserved.json()['id']}").json()
    assert (reservation["action"], reservation["state"]) == ("reserve", "accepted")

    cancel = app.post(f"/api/v1/charging/reservations/{reservation['id']}/cancel")
    assert cancel.status_code == 202, cancel.json()
    sim.flush()
    cancelled = app.get(f"/api/v1/charging/commands/{cancel.json()['id']}").json()
    assert (cancelled["action"], cancelled["state"]) == ("cancel_reservation", "accepted")


# --- without the simulator ---------------------------------------------------------------------------------


def test_starts_are_throttled(app: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"charging": "2/min"})
    cache.clear()
    body = {"evse_id": "NL*NONE*E1"}
    assert [app.post("/api/v1/charging/start", body, format="json").status_code for _ in range(2)] == [404, 404]
    throttled = app.post("/api/v1/charging/start", body, format="json")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["type"] == "throttled"
    assert throttled.json()["error"]["retry_after"] > 0
    # Polling is not throttled.
    assert app.get("/api/v1/charging/commands/00000000-0000-0000-0000-000000000000").status_code == 404
    cache.clear()


def test_a_poll_that_changed_nothing_is_answered_from_the_row(
    ann: Driver, app: APIClient, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    """The ETag comes from the session's version and the cost window, not from the answer: a 304 takes two
    queries (the user with their driver, the session) and no pricing; each cost window prices it again."""
    session = running_session(a_partner(), ("NL", "CPO"))
    session.driver = ann
    session.save()
    url = f"/api/v1/charging/sessions/{session.pk}"
    monkeypatch.setattr(charging, "_clock", lambda: 1_000_000.0)
    first = app.get(url)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    with django_assert_num_queries(2):
        unchanged = app.get(url, HTTP_IF_NONE_MATCH=tag)
    assert (unchanged.status_code, unchanged.headers["ETag"]) == (304, tag)

    monkeypatch.setattr(charging, "_clock", lambda: 1_000_000.0 + charging.COST_CACHE_SECONDS)
    next_window = app.get(url, HTTP_IF_NONE_MATCH=tag)
    assert next_window.status_code == 200
    assert next_window.headers["ETag"] != tag
    assert next_window.json() == first.json()  # nothing moved: the same answer, priced again

    session.kwh = Decimal("4.5")
    session.save()  # the operator reported
    moved = app.get(url, HTTP_IF_NONE_MATCH=next_window.headers["ETag"])
    assert (moved.status_code, moved.json()["energy_kwh"]) == (200, "4.5")
    other = a_driver("Bob Jansen")
    assert signed_in(other).get(url, HTTP_IF_NONE_MATCH=moved.headers["ETag"]).status_code == 404


def test_a_driver_without_an_app_token_cannot_start(db: None) -> None:
    partner = a_partner()
    session = running_session(partner, ("NL", "CPO"), capabilities=["REMOTE_START_STOP_CAPABLE"])
    assert session.location is not None
    bob = a_driver("Bob Jansen")  # an RFID card only
    reply = signed_in(bob).post(
        "/api/v1/charging/start", {"location_id": session.location.pk, "evse_uid": "E1"}, format="json"
    )
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "no_app_token")
    invalid = signed_in(bob).post("/api/v1/charging/start", {"evse_uid": "E1"}, format="json")
    assert (invalid.status_code, invalid.json()["error"]["type"]) == (400, "validation_error")


OPERATIONS = [
    ("post", "/api/v1/charging/start"),
    ("post", "/api/v1/charging/sessions/{session}/stop"),
    ("get", "/api/v1/charging/sessions/{session}"),
    ("get", "/api/v1/charging/commands/{command}"),
    ("post", "/api/v1/charging/reservations"),
    ("post", "/api/v1/charging/reservations/{reservation}/cancel"),
]


@pytest.fixture
def anns_things(ann: Driver) -> dict[str, Any]:
    """A running session of Ann's, a start and a reservation her app sent."""
    partner = a_partner()
    session = running_session(partner, ("NL", "CPO"))
    session.driver = ann
    session.save()
    token = ann.tokens.get(type=Token.Type.APP_USER)
    command = Command.objects.create(partner=partner, type=Command.Type.START_SESSION, token=token)
    reservation = Command.objects.create(
        partner=partner, type=Command.Type.RESERVE_NOW, token=token, result="ACCEPTED", reservation_id="R1"
    )
    return {"session": session.pk, "command": command.reference, "reservation": reservation.reference}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_signed_out_callers_are_refused(method: str, path: str, anns_things: dict[str, Any]) -> None:
    reply = getattr(APIClient(), method)(path.format(**anns_things), {}, format="json")
    assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated")


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if "{" in op[1]])
def test_another_drivers_ids_are_not_found(method: str, path: str, anns_things: dict[str, Any], app: APIClient) -> None:
    bob = a_driver("Bob Jansen")
    token_issue(driver=bob, uid="APP-BOB", type=Token.Type.APP_USER)
    reply = getattr(signed_in(bob), method)(path.format(**anns_things), {}, format="json")
    assert (reply.status_code, reply.json()["error"]["type"]) == (404, "not_found")
    if method == "get":
        assert app.get(path.format(**anns_things)).status_code == 200  # Ann's own
