"""The credentials handshake in both directions, over HTTP, against the CPO simulator."""

from __future__ import annotations

import base64

import pytest
import requests
from django.test import override_settings

from cposim import Simulator
from roaming.models import CredentialsToken, Partner
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.services.partners import HandshakeError, register_with, rotate_our_token, unregister
from tests.integration.conftest import sim_over_versions

pytestmark = pytest.mark.django_db(transaction=True)

sim = sim_over_versions()  # every test with the simulator runs over each OCPI version we serve


def _get(url: str, token: str) -> requests.Response:
    return requests.get(
        url, headers={"Authorization": "Token " + base64.b64encode(token.encode()).decode()}, timeout=10
    )


# --- the CPO registers with us ---------------------------------------------------------------------------


def test_cpo_registers_with_our_token_a(sim_registered_with_us: Partner, sim: Simulator, emsp: str) -> None:
    partner = sim_registered_with_us
    assert partner.status == Partner.Status.REGISTERED
    assert partner.version == sim.config.ocpi_version  # the only version the simulator offers
    assert partner.versions_url == sim.versions_url
    assert [(r.role, r.country_code, r.party_id) for r in partner.roles.all()] == [("CPO", "NL", "SIM")]
    modules = {(e.module, e.role) for e in partner.endpoints.all()}
    assert {("credentials", "SENDER"), ("locations", "SENDER"), ("tariffs", "SENDER")} <= modules
    # We keep the token the simulator gave us (encrypted) and can call it with it.
    assert partner.outgoing_token == sim.inbound_token
    locations = OcpiClient.for_partner(partner).get(
        partner.endpoint_url("locations", "SENDER") or "", module="locations"
    )
    assert len(locations.data) == 12
    # The simulator calls us with the token C we issued; only its hash is stored.
    assert sim.outbound_token
    stored = CredentialsToken.objects.get(partner=partner)
    assert stored.kind == CredentialsToken.Kind.CONNECTION
    assert sim.outbound_token not in stored.token_hash
    assert _get(f"{emsp}/ocpi/{partner.version}", sim.outbound_token).status_code == 200


def test_token_a_stops_working_once_token_c_is_issued(emsp: str, sim: Simulator) -> None:
    from roaming.services.partners import partner_invite

    _, token_a = partner_invite(name="Once")
    assert _get(f"{emsp}/ocpi/versions", token_a).status_code == 200
    sim.register_with(f"{emsp}/ocpi/versions", token_a)
    reply = _get(f"{emsp}/ocpi/versions", token_a)
    assert reply.status_code == 401
    assert reply.json()["status_code"] == 2000


def test_second_post_on_a_registered_connection_is_405(
    sim_registered_with_us: Partner, sim: Simulator, emsp: str
) -> None:
    token = base64.b64encode((sim.outbound_token or "").encode()).decode()
    reply = requests.post(
        f"{emsp}/ocpi/2.2.1/credentials",
        timeout=10,
        headers={"Authorization": f"Token {token}"},
        json={"token": "x" * 20, "url": sim.versions_url, "roles": []},
    )
    assert reply.status_code == 405
    assert reply.json()["status_code"] == 2000


def test_registration_with_an_unreachable_cpo_is_3001_and_leaves_the_invitation(emsp: str) -> None:
    from roaming.services.partners import partner_invite

    partner, token_a = partner_invite(name="Unreachable")
    token = base64.b64encode(token_a.encode()).decode()
    body = {
        "token": "their-token-b",
        "url": "http://127.0.0.1:9/ocpi/versions",
        "roles": [{"role": "CPO", "country_code": "NL", "party_id": "UNR", "business_details": {"name": "U"}}],
    }
    with override_settings(OCPI_CLIENT_RETRIES=0):
        reply = requests.post(
            f"{emsp}/ocpi/2.2.1/credentials", json=body, timeout=30, headers={"Authorization": f"Token {token}"}
        )
    assert reply.status_code == 200
    assert reply.json()["status_code"] == 3001
    partner.refresh_from_db()
    assert partner.status == Partner.Status.INVITED
    assert _get(f"{emsp}/ocpi/versions", token_a).status_code == 200  # token A still usable for a retry


def test_malformed_credentials_get_2001_and_nothing_changes(emsp: str) -> None:
    from roaming.services.partners import partner_invite

    partner, token_a = partner_invite(name="Sloppy")
    token = base64.b64encode(token_a.encode()).decode()
    reply = requests.post(
        f"{emsp}/ocpi/2.2.1/credentials",
        json={"token": "abc", "roles": []},
        timeout=10,
        headers={"Authorization": f"Token {token}"},
    )
    assert reply.json()["status_code"] == 2001
    assert "url" in reply.json()["status_message"]
    partner.refresh_from_db()
    assert partner.status == Partner.Status.INVITED


def test_cpo_rotates_its_credentials_and_its_old_token_survives_the_grace_period(
    sim_registered_with_us: Partner, sim: Simulator, emsp: str
) -> None:
    old_outbound, old_inbound = sim.outbound_token, sim.inbound_token
    sim.rotate_credentials()
    assert sim.outbound_token != old_outbound
    partner = Partner.objects.get(pk=sim_registered_with_us.pk)
    assert partner.outgoing_token == sim.inbound_token != old_inbound
    assert _get(f"{emsp}/ocpi/versions", sim.outbound_token or "").status_code == 200
    # The old token still works for the grace period, so a lost answer cannot lock the CPO out.
    assert _get(f"{emsp}/ocpi/versions", old_outbound or "").status_code == 200
    assert CredentialsToken.objects.filter(partner=partner, valid_until__isnull=False).count() == 1


def test_wrong_tokens_and_wrong_party_headers_get_envelopes_over_http(
    sim_registered_with_us: Partner, sim: Simulator, emsp: str
) -> None:
    url = f"{emsp}/ocpi/2.2.1/tariffs/NL/SIM/NOPE"
    wrong = _get(url, "not-a-token-we-issued")
    assert (wrong.status_code, wrong.json()["status_code"]) == (401, 2000)
    token = "Token " + base64.b64encode((sim.outbound_token or "").encode()).decode()
    not_theirs = requests.get(
        url,
        headers={"Authorization": token, "OCPI-from-country-code": "DE", "OCPI-from-party-id": "XYZ"},
        timeout=10,
    )
    assert (not_theirs.status_code, not_theirs.json()["status_code"]) == (403, 2001)
    assert "DE/XYZ" in not_theirs.json()["status_message"]
    theirs = requests.get(
        url,
        headers={"Authorization": token, "OCPI-from-country-code": "NL", "OCPI-from-party-id": "SIM"},
        timeout=10,
    )
    assert theirs.status_code == 404  # routed to the tariffs module: the tariff is just unknown
    assert theirs.json()["status_code"] != 1000
    assert theirs.json()["timestamp"].endswith("Z")


def test_cpo_unregisters(sim_registered_with_us: Partner, sim: Simulator, emsp: str) -> None:
    token = sim.outbound_token or ""
    sim.unregister()
    partner = Partner.objects.get(pk=sim_registered_with_us.pk)
    assert partner.status == Partner.Status.UNREGISTERED
    assert partner.outgoing_token == ""
    assert _get(f"{emsp}/ocpi/versions", token).status_code == 401


# --- we register with the CPO ----------------------------------------------------------------------------


def test_we_register_with_a_cpo_that_gave_us_token_a(emsp: str, sim: Simulator) -> None:
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    assert partner.status == Partner.Status.REGISTERED
    assert partner.version == sim.config.ocpi_version
    assert partner.name == "Simulated Charging B.V."
    assert sim.is_registered
    assert partner.outgoing_token == sim.inbound_token  # token C from the CPO
    assert _get(f"{emsp}/ocpi/versions", sim.outbound_token or "").status_code == 200  # our token B
    # The CPO's token A is spent.
    assert _get(sim.versions_url, sim.token_a).status_code == 401


def test_registering_with_a_wrong_token_a_fails_cleanly(emsp: str, sim: Simulator) -> None:
    with pytest.raises(HandshakeError, match="versions"):
        register_with(versions_url=sim.versions_url, token_a="not-the-token")
    partner = Partner.objects.get(versions_url=sim.versions_url)
    assert partner.status == Partner.Status.INVITED
    assert not partner.credentials_tokens.exists()
    assert not sim.is_registered


def test_we_rotate_our_token(emsp: str, sim: Simulator) -> None:
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    old_ours, old_theirs = sim.outbound_token, partner.outgoing_token
    rotate_our_token(partner=partner)
    partner.refresh_from_db()
    assert partner.outgoing_token == sim.inbound_token != old_theirs
    assert sim.outbound_token != old_ours
    assert _get(f"{emsp}/ocpi/versions", sim.outbound_token or "").status_code == 200
    assert partner.endpoints.filter(module="locations").exists()  # endpoints read again
    with pytest.raises(OcpiClientError):
        OcpiClient(old_theirs, retries=0).get(sim.version_url, module="versions")


def test_we_unregister(emsp: str, sim: Simulator) -> None:
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    our_token = sim.outbound_token or ""
    unregister(partner=partner)
    assert partner.status == Partner.Status.UNREGISTERED
    assert not sim.is_registered
    assert _get(f"{emsp}/ocpi/versions", our_token).status_code == 401
    with pytest.raises(HandshakeError):
        rotate_our_token(partner=partner)
