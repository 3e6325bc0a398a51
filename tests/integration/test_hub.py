"""Our platform behind a roaming hub, over HTTP: the simulated hub (cposim.Hub) in front of three CPOs.

We register with the hub; it tells us its parties (HubClientInfo) and the first pull keeps each party's
locations and tariffs under that party. Then the charging story goes through the hub for the parties behind
it: our tokens are broadcast, an RFID swipe is authorized in real time, START_SESSION is addressed to the
party of the location, and the session and its CDR come back through the hub, linked to our token and
driver, and priced.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as DjangoSettings

from billing.models import CdrPrice, Dispute
from cposim import Hub, HubConfig, Simulator
from drivers.models import Token
from drivers.services import token_issue
from roaming.models import Cdr, ChargingSession, Location, Partner, SyncRun, Tariff
from roaming.services.commands import command_start_session, command_stop_session
from roaming.services.partners import register_with
from roaming.services.tokens import push_token_changes
from tests.integration.conftest import SIM_START
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db(transaction=True)

PARTIES = [("NL", "AAA"), ("BE", "BBB"), ("DE", "CCC")]


@pytest.fixture
def hub(emsp: str) -> Iterator[Hub]:
    with Hub(HubConfig(seed=7, locations=4, start_time=SIM_START)) as running:
        yield running


@pytest.fixture
def partner(hub: Hub, settings: DjangoSettings) -> Partner:
    """We registered with the hub; as on registration in production, the parties are pulled, then their objects
    (roaming.tasks.hub_clients_pull_task; in tests the tasks run inline)."""
    settings.OCPI_SYNC_ON_REGISTER = True
    registered = register_with(versions_url=hub.versions_url, token_a=hub.token_a)
    hub.flush()  # the hub's ClientInfo PUTs, sent once it answered our credentials
    return registered


def _free_evse(sim: Simulator) -> tuple[str, str]:
    for location_id in sim.location_ids():
        for evse in sim.location(location_id)["evses"]:
            if evse["status"] == "AVAILABLE" and "REMOTE_START_STOP_CAPABLE" in evse.get("capabilities", []):
                return location_id, evse["uid"]
    raise AssertionError("the simulated network has no free EVSE")


def test_the_hubs_parties_and_their_objects_arrive_each_under_its_party(hub: Hub, partner: Partner) -> None:
    roles = partner.roles.values_list("role", "country_code", "party_id", "source", "connection_status")
    assert sorted(roles) == sorted(
        [("HUB", "NL", "HUB", "credentials", "CONNECTED")]
        + [("CPO", cc, pid, "hubclientinfo", "CONNECTED") for cc, pid in PARTIES]
    )
    assert set(SyncRun.objects.filter(partner=partner).values_list("module", "status")) == {
        ("locations", "succeeded"),
        ("tariffs", "succeeded"),
    }
    stored = Location.objects.filter(partner=partner).values_list("country_code", "party_id", "ocpi_id")
    by_party = list(zip(PARTIES, hub.cpos, strict=True))
    expected = [(*party, location_id) for party, sim in by_party for location_id in sim.location_ids()]
    assert sorted(stored) == sorted(expected)
    tariffs = Tariff.objects.filter(partner=partner).values_list("country_code", "party_id", "ocpi_id")
    assert sorted(tariffs) == sorted((*party, t["id"]) for party, sim in by_party for t in sim.tariffs())


def test_the_charging_story_through_the_hub(hub: Hub, partner: Partner) -> None:
    driver = make_driver()
    card = token_issue(driver=driver, uid="04AA11BB", visual_number="NL-EMS-CARD-1")
    app = token_issue(driver=driver, uid="APP-7F3A", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)
    aaa, bbb, _ = hub.cpos

    # 1. Our tokens are pushed once, to the hub itself, which hands them to every party behind it.
    assert push_token_changes(partner=partner).sent == 2
    for sim in hub.cpos:
        assert (sim.token(card.uid) or {}).get("valid") is True
        assert (sim.token(app.uid, token_type="APP_USER") or {}).get("contract_id") == app.contract_id

    # 2. A swipe at NL/AAA is authorized by us in real time, through the hub.
    location_id, evse_uid = _free_evse(aaa)
    swipe = aaa.swipe(card.uid, location_id, evse_uid)
    hub.flush()
    assert swipe.allowed == "ALLOWED"
    swiped = ChargingSession.objects.get(ocpi_id=swipe.session_id)
    assert (swiped.country_code, swiped.party_id, swiped.driver, swiped.token) == ("NL", "AAA", driver, card)

    # 3. The app starts a session at BE/BBB: the command goes to that party only, its result comes back.
    location_id, evse_uid = _free_evse(bbb)
    start = command_start_session(token=app, location_id=location_id, evse_uid=evse_uid)
    hub.flush()
    start.refresh_from_db()
    assert (start.response, start.result) == ("ACCEPTED", "ACCEPTED")
    assert [len(sim.commands()) for sim in hub.cpos] == [0, 1, 0]
    session = ChargingSession.objects.get(authorization_reference=start.authorization_reference)
    assert (session.partner, session.country_code, session.party_id, session.status) == (partner, "BE", "BBB", "ACTIVE")
    assert (session.driver, session.token) == (driver, app)

    # 4. The charge goes on; then STOP_SESSION, addressed to the session's party, ends it.
    bbb.advance(1800)
    hub.flush()
    session.refresh_from_db()
    assert session.kwh > 0
    stop = command_stop_session(session.ocpi_id, partner)
    hub.flush()
    stop.refresh_from_db()
    assert (stop.response, stop.result) == ("ACCEPTED", "ACCEPTED")
    assert [len(sim.commands()) for sim in hub.cpos] == [0, 2, 0]
    session.refresh_from_db()
    assert session.status == "COMPLETED"

    # 5. The CDR arrives through the hub under BE/BBB, is our driver's, and we price it as the CPO did.
    cdr = Cdr.objects.get(session=session)
    assert (cdr.country_code, cdr.party_id, cdr.driver, cdr.token, cdr.unknown_token) == (
        "BE",
        "BBB",
        driver,
        app,
        False,
    )
    assert cdr.total_cost_excl_vat > 0
    assert CdrPrice.objects.get(cdr=cdr).status == "PRICED"
    assert not Dispute.objects.filter(cdr=cdr).exists()
    # The CPO was told where we keep its CDR as a URL on the hub.
    info = bbb.cdr_info(cdr.ocpi_id)
    assert info is not None
    assert info["emsp_location"].startswith(hub.inner_versions_url.removesuffix("versions"))
