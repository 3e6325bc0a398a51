"""The whole charging story over HTTP, our platform against the CPO simulator (issue 6, "done when").

A token is pushed to the CPO, an RFID swipe is authorized and a blocked card refused, an app
START_SESSION is accepted and its result arrives, the session updates arrive, STOP_SESSION ends it,
the CDR arrives once though the CPO posts it twice, and a CPO that was down while a card was blocked
gets the block once it is back. It runs over each OCPI version the simulator speaks (SIM_VERSIONS: 2.3.0,
2.2.1, 2.1.1); tests/integration/test_hub.py runs it through a hub.
"""

from __future__ import annotations

from typing import Any

import pytest

from cposim import Simulator
from drivers.models import Token
from drivers.services import token_block, token_issue
from roaming.models import Cdr, ChargingSession, Command, Location, Partner, Tariff, TokenPushCursor
from roaming.selectors import token_changes_pending
from roaming.services.commands import command_start_session, command_stop_session
from roaming.services.partners import register_with
from roaming.services.tokens import push_token_changes
from roaming.sync import sync_partner
from tests.integration.conftest import sim_over_versions
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db(transaction=True)

sim = sim_over_versions()  # the story runs over each OCPI version we serve


def _at_cpo(sim: Simulator, uid: str, token_type: str = "RFID") -> dict[str, Any]:
    """The token as the CPO stored it from our pushes."""
    token = sim.token(uid, token_type=token_type)
    assert token is not None, f"the CPO has no token {uid}"
    return token


def _free_evses(sim: Simulator, count: int) -> list[tuple[str, str]]:
    found = [
        (location_id, evse["uid"])
        for location_id in sim.location_ids()
        for evse in sim.location(location_id)["evses"]
        if evse["status"] == "AVAILABLE" and "REMOTE_START_STOP_CAPABLE" in evse.get("capabilities", [])
    ]
    assert len(found) >= count, "the simulated network has too few free EVSEs"
    return found[:count]


def test_the_whole_charging_story(emsp: str, sim: Simulator) -> None:
    partner: Partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    assert partner.version == sim.config.ocpi_version
    # 2.1.1 has no authorization references, and knows an app token only as OTHER.
    references = partner.version != "2.1.1"
    assert sync_partner(partner=partner, module="locations", full=True).status == "succeeded"
    driver = make_driver()
    card = token_issue(driver=driver, uid="04AA11BB", visual_number="NL-EMS-CARD-1")
    lost = token_issue(driver=driver, uid="04CC22DD", visual_number="NL-EMS-CARD-2")
    app = token_issue(driver=driver, uid="APP-7F3A", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)
    (rfid_location, rfid_evse), (app_location, app_evse) = _free_evses(sim, 2)

    # 1. Our tokens reach the CPO.
    assert push_token_changes(partner=partner).sent == 3
    assert _at_cpo(sim, card.uid)["valid"] is True
    assert _at_cpo(sim, app.uid, "APP_USER" if references else "OTHER")["contract_id"] == app.contract_id

    # 2. An RFID swipe is authorized in real time; the session the CPO starts is our driver's.
    swipe = sim.swipe(card.uid, rfid_location, rfid_evse)
    sim.flush()
    assert swipe.allowed == "ALLOWED"
    rfid_session = ChargingSession.objects.get(ocpi_id=swipe.session_id)
    assert (rfid_session.driver, rfid_session.token) == (driver, card)
    assert swipe.authorization is not None
    if references:
        assert rfid_session.authorization_reference == swipe.authorization["authorization_reference"]

    # ... and a blocked card is refused, with no session: our real-time answer, before the CPO even
    # learns of the block from the push that follows.
    token_block(token=lost)
    refused = sim.swipe(lost.uid, rfid_location, rfid_evse)
    assert (refused.allowed, refused.session_id) == ("BLOCKED", None)
    assert push_token_changes(partner=partner).sent == 1
    assert _at_cpo(sim, lost.uid)["valid"] is False

    # 3. The app starts a session remotely; the CPO's result arrives at that command's own URL.
    start = command_start_session(token=app, location_id=app_location, evse_uid=app_evse)
    sim.flush()
    start.refresh_from_db()
    assert (start.response, start.result) == ("ACCEPTED", "ACCEPTED")
    assert start.response_url.endswith(f"/commands/START_SESSION/{start.reference}")
    app_session = (
        ChargingSession.objects.get(authorization_reference=start.authorization_reference)
        if references
        else ChargingSession.objects.get(token=app)  # named by its auth_id, our contract id
    )
    assert app_session.status == "ACTIVE"
    assert app_session.driver == driver

    # 4. Session updates arrive as the charge goes on.
    sim.advance(1800)
    sim.flush()
    app_session.refresh_from_db()
    assert app_session.kwh > 0
    assert len(app_session.charging_periods) >= 1

    # 5. STOP_SESSION ends it; the CDR arrives once although the CPO posts it twice.
    sim.set_chaos(duplicate_share=1.0)
    stop = command_stop_session(app_session.ocpi_id, partner)
    sim.flush()
    stop.refresh_from_db()
    assert (stop.response, stop.result) == ("ACCEPTED", "ACCEPTED")
    app_session.refresh_from_db()
    assert app_session.status == "COMPLETED"
    cdr_posts = [c for c in sim.calls if c.method == "POST" and "/cdrs" in c.url]
    assert len(cdr_posts) == 2
    # A 2.1.1 CDR names no session: it is the one of the same token that began at the same connector and time.
    cdr = Cdr.objects.get(session=app_session)
    assert (cdr.driver, cdr.unknown_token, cdr.currency) == (driver, False, "EUR")
    assert cdr.total_cost_excl_vat is not None
    assert cdr.total_cost_excl_vat > 0
    sim.set_chaos(duplicate_share=0.0)

    # 6. A card blocked while the CPO is down reaches it once it is back.
    sim.set_chaos(error_share=1.0)
    token_block(token=card)
    assert push_token_changes(partner=partner).sent == 0
    cursor = TokenPushCursor.objects.get(partner=partner)
    assert token_changes_pending(cursor) == 1
    assert cursor.last_error
    assert _at_cpo(sim, card.uid)["valid"] is True  # the CPO does not know yet
    sim.set_chaos(error_share=0.0)
    assert push_token_changes(partner=partner).sent == 1
    assert _at_cpo(sim, card.uid)["valid"] is False
    assert token_changes_pending(TokenPushCursor.objects.get(partner=partner)) == 0

    assert Command.objects.filter(partner=partner).count() == 2


def test_every_module_is_pulled_whole_in_each_version(emsp: str, sim: Simulator) -> None:
    """Locations, tariffs, sessions and CDRs pulled from the CPO in its version: all of it, under its party."""
    partner: Partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    runs = {m: sync_partner(partner=partner, module=m, full=True) for m in ("locations", "tariffs")}
    driver = make_driver()
    card = token_issue(driver=driver, uid="04EE33FF")
    assert push_token_changes(partner=partner).sent == 1
    ((location_id, evse_uid),) = _free_evses(sim, 1)
    swipe = sim.swipe(card.uid, location_id, evse_uid)
    sim.advance(1800)
    assert swipe.session_id is not None
    sim.stop_session(swipe.session_id)
    sim.flush()
    ChargingSession.objects.all().delete()
    Cdr.objects.all().delete()
    runs |= {m: sync_partner(partner=partner, module=m, full=True) for m in ("sessions", "cdrs")}
    assert {m: r.status for m, r in runs.items()} == dict.fromkeys(runs, "succeeded")
    assert Location.objects.filter(country_code="NL", party_id="SIM").count() == 12
    assert set(Tariff.objects.values_list("ocpi_id", flat=True)) == {t["id"] for t in sim.tariffs()}
    session = ChargingSession.objects.get(ocpi_id=swipe.session_id)
    assert (session.token, session.driver, session.status) == (card, driver, "COMPLETED")
    cdr = Cdr.objects.get(token=card)
    assert (cdr.driver, cdr.session) == (driver, session)
