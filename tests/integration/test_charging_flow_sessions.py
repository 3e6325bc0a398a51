"""A charge in the CPO simulator, over HTTP: its Session pushes (PUT, PATCH) and its one CDR, then a
pull sync of sessions and CDRs for what we missed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from django.contrib.auth import get_user_model

from cposim import Simulator
from drivers.models import Token
from drivers.services import driver_create, token_issue
from roaming.models import Cdr, ChargingSession, Location, Partner
from roaming.ocpi.v2_2_1.mapping import session_to_ocpi
from roaming.ocpi.v2_2_1.types import dumps
from roaming.sync import sync_partner
from tests.integration.conftest import SIM_START, simulated_cpo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulated_cpo(start_time=SIM_START) as simulator:
        yield simulator


@pytest.fixture
def partner(located_partner: Partner) -> Partner:
    return located_partner


@pytest.fixture
def token(db: None) -> Token:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    return token_issue(driver=driver, uid="04A1B2C3")


def _cdr_token(token: Token) -> dict[str, Any]:
    return {"country_code": "NL", "party_id": "EMS", "uid": token.uid, "type": "RFID", "contract_id": token.contract_id}


def _free_evse(sim: Simulator, skip: int = 0) -> tuple[str, str]:
    free = [
        (location_id, evse["uid"])
        for location_id in sim.location_ids()
        for evse in sim.location(location_id)["evses"]
        if evse["status"] == "AVAILABLE"
    ]
    return free[skip]


def _json(value: Any) -> Any:
    """Both sides as plain JSON (numbers compared by value, not by Decimal spelling)."""
    return json.loads(dumps(value))


def _charge(sim: Simulator, token: Token, *, skip: int = 0) -> tuple[str, dict[str, Any]]:
    location_id, evse_uid = _free_evse(sim, skip)
    session = sim.start_session(location_id, evse_uid, token=_cdr_token(token))
    sim.advance(900)
    sim.advance(900)
    return session["id"], sim.stop_session(session["id"])


def test_a_charge_arrives_as_session_pushes_and_exactly_one_cdr(partner: Partner, sim: Simulator, token: Token) -> None:
    sim.set_chaos(duplicate_share=1.0)  # every push is sent twice
    location_id, evse_uid = _free_evse(sim)
    started = sim.start_session(location_id, evse_uid, token=_cdr_token(token))

    # PUT PENDING and PUT ACTIVE carry the same last_updated: the ACTIVE one counts.
    session = ChargingSession.objects.get(ocpi_id=started["id"])
    assert (session.status, session.kwh, session.partner) == ("ACTIVE", 0, partner)
    assert (session.token, session.driver) == (token, token.driver)
    assert session.location == Location.objects.get(ocpi_id=location_id)
    assert session.evse_uid == evse_uid

    sim.advance(900)
    session.refresh_from_db()
    first_kwh, first_periods = session.kwh, len(session.charging_periods)
    assert first_kwh > 0
    assert first_periods >= 1
    sim.advance(900)
    session.refresh_from_db()
    assert session.kwh > first_kwh
    assert session.total_cost_excl_vat is not None
    # Each PATCH came twice; its periods were appended once.
    assert session.charging_periods == _json(sim.session(started["id"]))["charging_periods"]

    cdr_sent = sim.stop_session(started["id"])
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert session.end_date_time is not None
    assert _json(session_to_ocpi(session)) == _json(sim.session(started["id"]))

    cdr = Cdr.objects.get()  # posted twice, stored once
    assert sum(1 for c in sim.calls if c.module == "cdrs" and c.method == "POST") == 2
    assert (cdr.ocpi_id, cdr.session, cdr.driver, cdr.unknown_token) == (cdr_sent["id"], session, token.driver, False)
    assert cdr.raw == _json(cdr_sent)
    assert cdr.total_energy == session.kwh
    info = sim.cdr_info(cdr_sent["id"])
    assert info is not None
    assert info["posted"] is True
    assert info["emsp_location"] == cdr.ocpi_url

    # The CPO reads the CDR back where our answer said, with its own token.
    assert sim.outbound_token
    reply = requests.get(
        info["emsp_location"], headers={"Authorization": f"Token {sim.outbound_token}"}, timeout=10
    ).json()
    assert reply["status_code"] == 1000
    assert reply["data"] == _json(cdr_sent)
    assert urlparse(info["emsp_location"]).path.endswith(f"/2.2.1/cdrs/{cdr.pk}")


def test_a_charge_with_a_token_we_dont_know_is_kept_and_flagged(partner: Partner, sim: Simulator) -> None:
    location_id, evse_uid = _free_evse(sim)
    started = sim.start_session(location_id, evse_uid)  # the simulator's own whitelisted test token
    sim.advance(600)
    sim.stop_session(started["id"])
    session = ChargingSession.objects.get()
    assert (session.status, session.token, session.token_uid) == ("COMPLETED", None, "SIMTOKEN0001")
    cdr = Cdr.objects.get()
    assert (cdr.unknown_token, cdr.token, cdr.session) == (True, None, session)


def test_missed_sessions_and_cdrs_are_pulled_once_and_nothing_is_removed(
    partner: Partner, sim: Simulator, token: Token
) -> None:
    first_id, first_cdr = _charge(sim, token)
    second_id, second_cdr = _charge(sim, token, skip=1)
    # We were down: what the pushes brought is gone (links first, then the rows).
    Cdr.objects.all().delete()
    ChargingSession.objects.all().delete()

    sessions = sync_partner(partner=partner, module="sessions", full=True)  # sends the required date_from
    assert (sessions.status, sessions.seen, sessions.created, sessions.removed) == ("succeeded", 2, 2, 0)
    cdrs = sync_partner(partner=partner, module="cdrs", full=True)
    assert (cdrs.status, cdrs.seen, cdrs.created, cdrs.removed) == ("succeeded", 2, 2, 0)

    for session_id, cdr_sent in ((first_id, first_cdr), (second_id, second_cdr)):
        session = ChargingSession.objects.get(ocpi_id=session_id)
        assert _json(session_to_ocpi(session)) == _json(sim.session(session_id))
        assert (session.driver, session.status) == (token.driver, "COMPLETED")
        cdr = Cdr.objects.get(ocpi_id=cdr_sent["id"])
        assert (cdr.session, cdr.driver, cdr.raw) == (session, token.driver, _json(cdr_sent))

    # Pulling again changes nothing, and a session the CPO no longer lists is not "removed".
    kept = ChargingSession.objects.get(ocpi_id=first_id)
    ChargingSession.objects.filter(pk=kept.pk).update(ocpi_id="GONE-FROM-LIST")
    again_sessions = sync_partner(partner=partner, module="sessions", full=True)
    again_cdrs = sync_partner(partner=partner, module="cdrs", full=True)
    assert (again_sessions.unchanged, again_sessions.removed) == (1, 0)
    assert (again_cdrs.created, again_cdrs.unchanged, again_cdrs.removed) == (0, 2, 0)
    assert Cdr.objects.count() == 2
    assert ChargingSession.objects.filter(ocpi_id="GONE-FROM-LIST").exists()


def test_a_pending_put_delivered_after_the_active_one_does_not_set_the_session_back(
    partner: Partner, sim: Simulator, token: Token
) -> None:
    sim.set_chaos(out_of_order_share=1.0)  # each push is held back and sent after the next one
    location_id, evse_uid = _free_evse(sim)
    started = sim.start_session(location_id, evse_uid, token=_cdr_token(token))
    sim.flush()
    puts = [c.body["status"] for c in sim.calls if c.module == "sessions" and c.method == "PUT"]
    assert puts == ["ACTIVE", "PENDING"]  # as they arrived here, with one last_updated
    assert ChargingSession.objects.get(ocpi_id=started["id"]).status == "ACTIVE"
