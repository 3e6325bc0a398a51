"""The credentials handshake in both directions (spec section 2), against the fake EMSP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from cposim.credentials import HandshakeError


def b64(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def credentials_url(sim: Any) -> str:
    return f"{sim.version_url}/credentials"


def test_emsp_initiates_and_the_simulator_fetches_its_endpoints_with_token_b(sim: Any, emsp: Any) -> None:
    token_a = sim.token_a
    answer = emsp.register_at(sim)
    # The simulator answered with a new token C, its versions URL and its CPO role.
    assert answer["token"] not in (token_a, "emsp-token-b")
    assert answer["url"] == sim.versions_url
    assert answer["roles"][0]["role"] == "CPO"
    assert answer["roles"][0]["business_details"]["name"]
    # Before answering, it fetched our versions and details with token B.
    fetched = [r for r in emsp.received if r.method == "GET"]
    assert [r.path for r in fetched] == ["/emsp/versions", "/emsp/2.2.1"]
    assert all(r.headers["Authorization"] == b64("emsp-token-b")["Authorization"] for r in fetched)
    assert sim.is_registered
    assert sim.outbound_token == "emsp-token-b"
    # Token C works, token A no longer does.
    assert requests.get(f"{sim.version_url}/locations", headers=b64(answer["token"]), timeout=5).status_code == 200
    assert requests.get(sim.versions_url, headers=b64(token_a), timeout=5).status_code == 401


def test_credentials_get_returns_the_token_the_caller_uses(sim: Any, emsp: Any) -> None:
    body = requests.get(credentials_url(sim), headers=b64(sim.token_a), timeout=5).json()
    assert body["data"]["token"] == sim.token_a
    answer = emsp.register_at(sim)
    body = requests.get(credentials_url(sim), headers=b64(answer["token"]), timeout=5).json()
    assert body["data"]["token"] == answer["token"]


def test_post_when_registered_is_405_and_put_delete_when_not_registered_are_405(sim: Any, emsp: Any) -> None:
    own = emsp.credentials("x")
    assert requests.put(credentials_url(sim), json=own, headers=b64(sim.token_a), timeout=5).status_code == 405
    assert requests.delete(credentials_url(sim), headers=b64(sim.token_a), timeout=5).status_code == 405
    token_a = sim.token_a
    answer = emsp.register_at(sim)
    for token in (answer["token"], token_a):
        response = requests.post(credentials_url(sim), json=own, headers=b64(token), timeout=5)
        assert response.status_code == 405


def test_post_fails_with_3001_when_the_emsp_cannot_be_reached(sim: Any) -> None:
    body = {"token": "b", "url": "http://127.0.0.1:9/versions", "roles": [{"role": "EMSP"}]}
    response = requests.post(credentials_url(sim), json=body, headers=b64(sim.token_a), timeout=10)
    assert response.json()["status_code"] == 3001
    assert not sim.is_registered


def test_put_rotates_the_tokens_and_refetches_endpoints(sim: Any, emsp: Any) -> None:
    first = emsp.register_at(sim)
    emsp.received.clear()
    emsp.accepted_token = "emsp-token-b2"
    body = emsp.credentials("emsp-token-b2")
    answer = requests.put(credentials_url(sim), json=body, headers=b64(first["token"]), timeout=5).json()
    assert answer["status_code"] == 1000
    assert answer["data"]["token"] != first["token"]
    assert [r.path for r in emsp.received] == ["/emsp/versions", "/emsp/2.2.1"]
    assert sim.outbound_token == "emsp-token-b2"
    assert requests.get(f"{sim.version_url}/tariffs", headers=b64(first["token"]), timeout=5).status_code == 401
    assert (
        requests.get(f"{sim.version_url}/tariffs", headers=b64(answer["data"]["token"]), timeout=5).status_code == 200
    )


def test_delete_unregisters_and_token_a_works_again(sim: Any, emsp: Any) -> None:
    answer = emsp.register_at(sim)
    assert requests.delete(credentials_url(sim), headers=b64(answer["token"]), timeout=5).json()["status_code"] == 1000
    assert not sim.is_registered
    assert requests.get(f"{sim.version_url}/tariffs", headers=b64(answer["token"]), timeout=5).status_code == 401
    assert requests.get(sim.versions_url, headers=b64(sim.token_a), timeout=5).status_code == 200


def test_simulator_initiates_with_the_emsps_token_a(sim: Any, emsp: Any) -> None:
    answer = sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    assert answer["token"] == "emsp-token-c"
    assert sim.outbound_token == "emsp-token-c"
    # GET versions, GET details (token A), POST credentials (token A)...
    calls = [(r.method, r.path, r.headers["Authorization"]) for r in emsp.received]
    token_a = b64(emsp.token_a)["Authorization"]
    assert calls == [
        ("GET", "/emsp/versions", token_a),
        ("GET", "/emsp/2.2.1", token_a),
        ("POST", "/emsp/2.2.1/credentials", token_a),
    ]
    posted = emsp.received[-1].body
    assert posted["url"] == sim.versions_url
    assert posted["roles"][0]["country_code"] == "NL"
    # ...during which the fake EMSP fetched our versions with token B, which keeps working as inbound token.
    assert posted["token"] == sim.inbound_token == emsp.token_for_sim
    assert requests.get(f"{sim.version_url}/cdrs", headers=b64(sim.inbound_token), timeout=5).status_code == 200


def test_simulator_uses_the_emsp_endpoints_from_its_version_details(linked: Any) -> None:
    sim, emsp = linked
    sim.push_location("LOC000001")
    assert emsp.received[-1].path == "/emsp/2.2.1/locations/NL/SIM/LOC000001"
    assert emsp.received[-1].headers["OCPI-from-party-id"] == "SIM"
    assert emsp.received[-1].headers["OCPI-to-party-id"] == "EMS"


def test_simulator_rotates_and_unregisters(linked: Any) -> None:
    sim, emsp = linked
    old_inbound = sim.inbound_token
    sim.rotate_credentials()
    assert emsp.received[-1].method == "PUT"
    assert sim.outbound_token == emsp.accepted_token != "emsp-token-c"
    assert sim.inbound_token != old_inbound
    assert sim.inbound_token == emsp.token_for_sim
    sim.unregister()
    assert emsp.received[-1].method == "DELETE"
    assert not sim.is_registered


def test_register_with_a_dead_emsp_raises(sim: Any) -> None:
    with pytest.raises(HandshakeError):
        sim.register_with("http://127.0.0.1:9/versions", "whatever")
    assert not sim.is_registered


def test_raw_outgoing_token_when_configured(make_sim: Any, emsp: Any) -> None:
    sim = make_sim(encode_outgoing_token=False)
    sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    assert emsp.received[0].headers["Authorization"] == f"Token {emsp.token_a}"
