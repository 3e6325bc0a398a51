"""Transport, authorization and the CPO Sender interfaces over real HTTP."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote

import requests

from cposim import protocol

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def b64(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


def walk(client: Any, url: str) -> tuple[list[dict], list[requests.Response]]:
    """Follow the Link chain opaquely, as an EMSP behind a hub must."""
    items: list[dict] = []
    responses = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.text
        responses.append(response)
        items += response.json()["data"]
        link = response.headers.get("Link")
        next_url = match.group("url") if link and (match := LINK.match(link)) else None
    return items, responses


# --- envelope and auth ------------------------------------------------------------------------


def test_versions_accept_token_a_base64_and_raw(sim: Any) -> None:
    for header in (b64(sim.token_a), f"Token {sim.token_a}"):
        response = requests.get(sim.versions_url, headers={"Authorization": header}, timeout=5)
        assert response.status_code == 200
        body = response.json()
        assert body["status_code"] == 1000
        assert body["data"] == [{"version": "2.2.1", "url": sim.version_url}]
        assert body["timestamp"].endswith("Z")
        assert "OCPI-from-party-id" not in response.headers  # configuration module


def test_version_details_list_sender_and_receiver_modules(sim: Any) -> None:
    body = requests.get(sim.version_url, headers={"Authorization": b64(sim.token_a)}, timeout=5).json()
    roles = {(e["identifier"], e["role"]) for e in body["data"]["endpoints"]}
    assert roles == {
        ("credentials", "SENDER"),
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
    }


def test_unknown_or_missing_token_is_401(sim: Any) -> None:
    for headers in ({}, {"Authorization": b64("nope")}, {"Authorization": "Bearer " + sim.token_a}):
        response = requests.get(sim.versions_url, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json()["status_code"] == 2000


def test_token_a_is_only_good_for_versions_and_credentials(sim: Any) -> None:
    response = requests.get(f"{sim.version_url}/locations", headers={"Authorization": b64(sim.token_a)}, timeout=5)
    assert response.status_code == 401


def test_request_ids_are_echoed_and_routing_headers_set(client: Any) -> None:
    response = client.get("/locations/LOC000001", headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"})
    assert response.headers["X-Request-ID"] == "req-1"
    assert response.headers["X-Correlation-ID"] == "corr-1"
    assert response.headers["OCPI-from-country-code"] == "NL"
    assert response.headers["OCPI-from-party-id"] == "SIM"
    assert (response.headers["OCPI-to-country-code"], response.headers["OCPI-to-party-id"]) == ("NL", "EMS")
    assert response.headers["Content-Length"] == str(len(response.content))


def test_raw_token_c_works_too(client: Any) -> None:
    response = requests.get(
        f"{client.sim.version_url}/tariffs", headers={"Authorization": f"Token {client.sim.inbound_token}"}, timeout=5
    )
    assert response.status_code == 200


def test_keep_alive_serves_many_requests_on_one_connection(client: Any) -> None:
    for _ in range(20):
        assert client.get("/locations/LOC000002").status_code == 200
    # requests reuses one pooled connection per host when the server keeps it alive
    pool = next(iter(client.session.adapters["http://"].poolmanager.pools._container.values()))
    assert pool.num_connections == 1


def test_invalid_json_is_http_400(client: Any) -> None:
    response = client.request(
        "PUT", "/tokens/NL/EMS/123", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


# --- pagination -------------------------------------------------------------------------------


def test_link_chain_walks_every_location_exactly_once(make_sim: Any, emsp: Any, client_factory: Any) -> None:
    sim = make_sim(locations=103, page_limit=10)
    sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    client = client_factory(sim, sim.inbound_token)
    items, responses = walk(client, f"{sim.version_url}/locations?limit=7")
    assert [i["id"] for i in items] == [f"LOC{n:06d}" for n in range(1, 104)]
    assert len(responses) == 15  # ceil(103 / 7)
    assert all(r.headers["X-Total-Count"] == "103" for r in responses)
    assert all(r.headers["X-Limit"] == "10" for r in responses)
    assert "Link" not in responses[-1].headers


def test_limit_above_the_server_maximum_is_capped(make_sim: Any, emsp: Any, client_factory: Any) -> None:
    sim = make_sim(locations=25, page_limit=10)
    sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    client = client_factory(sim, sim.inbound_token)
    response = client.get("/locations?limit=5000")
    assert len(response.json()["data"]) == 10
    assert response.headers["X-Limit"] == "10"
    assert "limit=10" in response.headers["Link"]
    assert "offset=10" in response.headers["Link"]


def test_date_filters_are_inclusive_from_and_exclusive_to(client: Any) -> None:
    everything, _ = walk(client, f"{client.sim.version_url}/locations")
    stamps = sorted({loc["last_updated"] for loc in everything})
    low, high = stamps[5], stamps[20]
    filtered, responses = walk(client, f"{client.sim.version_url}/locations?date_from={low}&date_to={high}&limit=4")
    expected = [loc["id"] for loc in everything if low <= loc["last_updated"] < high]
    assert [loc["id"] for loc in filtered] == expected
    assert responses[0].headers["X-Total-Count"] == str(len(expected))
    links = [unquote(r.headers["Link"]) for r in responses[:-1]]
    assert links
    assert all(f"date_from={low}" in link and f"date_to={high}" in link for link in links)


def test_status_change_moves_a_location_into_a_date_from_window(linked: Any, client: Any) -> None:
    sim, _ = linked
    sim.advance(3600)
    since = protocol.format_dt(sim.clock.now())
    assert client.get(f"/locations?date_from={since}").headers["X-Total-Count"] == "0"
    sim.set_evse_status("LOC000004", "LOC000004-1", "OUTOFORDER")
    response = client.get(f"/locations?date_from={since}")
    assert [loc["id"] for loc in response.json()["data"]] == ["LOC000004"]
    evse = response.json()["data"][0]["evses"][0]
    assert (evse["status"], evse["last_updated"]) == ("OUTOFORDER", since)


def test_one_location_evse_and_connector(client: Any) -> None:
    location = client.get("/locations/LOC000003").json()["data"]
    evse = location["evses"][0]
    assert client.get(f"/locations/LOC000003/{evse['uid']}").json()["data"] == evse
    connector = evse["connectors"][0]
    assert client.get(f"/locations/LOC000003/{evse['uid']}/{connector['id']}").json()["data"] == connector
    missing = client.get("/locations/LOC999999")
    assert missing.status_code == 404
    assert missing.json()["status_code"] == 2003
    assert client.get("/locations/LOC000003/nope").status_code == 404


def test_tariffs_list(client: Any) -> None:
    items, _responses = walk(client, f"{client.sim.version_url}/tariffs?limit=4")
    assert [t["id"] for t in items] == [t["id"] for t in client.sim.tariffs()]
    assert json_numbers_only(items)


def json_numbers_only(tariffs: list[dict]) -> bool:
    return all(
        isinstance(c["price"], int | float) for t in tariffs for e in t["elements"] for c in e["price_components"]
    )


def test_sessions_need_date_from(client: Any) -> None:
    response = client.get("/sessions")
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert client.get("/sessions?date_from=2020-01-01T00:00:00Z").json()["data"] == []


def test_vanished_locations_disappear_instead_of_being_removed(client: Any) -> None:
    client.sim.vanish_locations(["LOC000002"])
    items, responses = walk(client, f"{client.sim.version_url}/locations")
    assert "LOC000002" not in [i["id"] for i in items]
    assert responses[0].headers["X-Total-Count"] == "29"
    assert client.get("/locations/LOC000002").status_code == 404


def test_touch_bumps_last_updated_without_changes(client: Any) -> None:
    sim = client.sim
    before = sim.location("LOC000005")
    sim.advance(60)
    sim.touch_locations()
    since = protocol.format_dt(sim.clock.now())
    items, _ = walk(client, f"{sim.version_url}/locations?date_from={since}")
    assert len(items) == 30
    after = sim.location("LOC000005")
    assert after["last_updated"] == since
    assert {**after, "last_updated": None} == {**before, "last_updated": None}


def test_empty_link_header_on_last_page_when_asked(make_sim: Any, emsp: Any, client_factory: Any) -> None:
    sim = make_sim(locations=5, empty_link_on_last_page=True)
    sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    response = client_factory(sim, sim.inbound_token).get("/locations")
    assert response.headers["Link"] == ""
