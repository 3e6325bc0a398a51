"""A roaming hub: one connection carrying the parties behind it (HubClientInfo), routed per party."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from drivers.services import token_issue
from roaming.models import Location, Partner, PartnerEndpoint, PartnerRole
from roaming.ocpi.client import OcpiClient
from roaming.services.commands import CommandRefused, command_start_session
from roaming.services.hubs import hub_clients_pull
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, registered_partner
from tests.roaming.fakecpo import FakeCpo, connect, install_fake_cpo, make_driver

CLIENTS = [("NL", "AAA"), ("BE", "BBB"), ("DE", "CCC")]


def client_info(country_code: str, party_id: str, status: str = "CONNECTED", at: str = "2026-11-01T10:00:00Z") -> dict:
    return {"country_code": country_code, "party_id": party_id, "role": "CPO", "status": status, "last_updated": at}


def location_of(country_code: str, party_id: str, location_id: str) -> dict[str, Any]:
    location = copy.deepcopy(example("locations/location_example.json"))
    location.update(country_code=country_code, party_id=party_id, id=location_id)
    return location


@pytest.fixture
def hub(db: None) -> tuple[Partner, str]:
    partner, token = registered_partner("Hub", [])
    PartnerRole.objects.create(partner=partner, role="HUB", country_code="EU", party_id="HUB", business_name="Hub")
    return partner, token


@pytest.fixture
def via_hub(client: Client, hub: tuple[Partner, str]) -> OcpiTestClient:
    return OcpiTestClient(client, hub[1])


def test_the_hub_tells_us_its_parties_and_their_objects_are_kept_per_party(via_hub: OcpiTestClient) -> None:
    # Before the hub's word, a party behind it is nobody on this connection.
    refused = via_hub.put("/ocpi/2.2.1/locations/NL/AAA/LOC1", location_of("NL", "AAA", "LOC1"))
    assert refused.http_status == 404

    for country_code, party_id in CLIENTS:
        answer = via_hub.put(
            f"/ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}", client_info(country_code, party_id)
        )
        assert (answer.http_status, answer.status_code) == (201, 1000)

    # The same location id under two parties: two objects, each with its party.
    for country_code, party_id in CLIENTS[:2]:
        headers = {"OCPI-from-country-code": country_code, "OCPI-from-party-id": party_id}
        answer = via_hub.put(
            f"/ocpi/2.2.1/locations/{country_code}/{party_id}/LOC1",
            location_of(country_code, party_id, "LOC1"),
            headers=headers,
        )
        assert answer.http_status == 201, answer.body
    assert sorted(Location.objects.values_list("country_code", "party_id", "ocpi_id")) == [
        ("BE", "BBB", "LOC1"),
        ("NL", "AAA", "LOC1"),
    ]

    got = via_hub.get("/ocpi/2.2.1/hubclientinfo/be/bbb")
    assert got.data == client_info("BE", "BBB")


def test_client_info_older_than_held_changes_nothing(via_hub: OcpiTestClient) -> None:
    via_hub.put("/ocpi/2.2.1/hubclientinfo/NL/AAA", client_info("NL", "AAA", "OFFLINE", "2026-11-02T00:00:00Z"))
    answer = via_hub.put(
        "/ocpi/2.2.1/hubclientinfo/NL/AAA", client_info("NL", "AAA", "CONNECTED", "2026-11-01T00:00:00Z")
    )
    assert (answer.http_status, answer.status_code) == (200, 1000)
    assert "Not applied" in answer.body["status_message"]
    assert PartnerRole.objects.get(party_id="AAA").connection_status == "OFFLINE"


def test_only_a_hub_speaks_for_other_parties(client: Client, hub: tuple[Partner, str], db: None) -> None:
    _, token = registered_partner("Direct CPO", [("FR", "DIR")])
    answer = OcpiTestClient(client, token).put("/ocpi/2.2.1/hubclientinfo/NL/AAA", client_info("NL", "AAA"))
    assert answer.http_status == 403
    assert not PartnerRole.objects.filter(party_id="AAA").exists()


def test_a_party_of_another_connection_is_not_taken_over(via_hub: OcpiTestClient, db: None) -> None:
    registered_partner("Direct CPO", [("FR", "DIR")])
    answer = via_hub.put("/ocpi/2.2.1/hubclientinfo/FR/DIR", client_info("FR", "DIR"))
    assert answer.http_status == 409
    assert PartnerRole.objects.get(party_id="DIR").partner.name == "Direct CPO"


@pytest.fixture
def hub_with_location(via_hub: OcpiTestClient, hub: tuple[Partner, str]) -> Partner:
    via_hub.put("/ocpi/2.2.1/hubclientinfo/NL/AAA", client_info("NL", "AAA"))
    headers = {"OCPI-from-country-code": "NL", "OCPI-from-party-id": "AAA"}
    assert (
        via_hub.put("/ocpi/2.2.1/locations/NL/AAA/LOC1", location_of("NL", "AAA", "LOC1"), headers=headers).http_status
        == 201
    )
    return connect(hub[0])


def test_commands_are_addressed_to_the_party_behind_the_hub(
    hub_with_location: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake: FakeCpo = install_fake_cpo(monkeypatch)
    card = token_issue(driver=make_driver(), uid="04A1B2C3")
    command_start_session(card, "LOC1", "3256", "1")
    (call,) = fake.calls
    assert (call.headers["OCPI-to-country-code"], call.headers["OCPI-to-party-id"]) == ("NL", "AAA")


def test_nothing_is_sent_to_a_party_the_hub_says_is_offline(
    hub_with_location: Partner, via_hub: OcpiTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake: FakeCpo = install_fake_cpo(monkeypatch)
    card = token_issue(driver=make_driver(), uid="04A1B2C3")
    via_hub.put("/ocpi/2.2.1/hubclientinfo/NL/AAA", client_info("NL", "AAA", "OFFLINE", "2026-11-02T00:00:00Z"))
    with pytest.raises(CommandRefused, match="NL/AAA is OFFLINE"):
        command_start_session(card, "LOC1", "3256", "1")
    assert fake.calls == []
    via_hub.put("/ocpi/2.2.1/hubclientinfo/NL/AAA", client_info("NL", "AAA", "CONNECTED", "2026-11-03T00:00:00Z"))
    command_start_session(card, "LOC1", "3256", "1")
    assert len(fake.calls) == 1


def test_broadcasts_and_lists_address_the_hub_itself(hub_with_location: Partner) -> None:
    """Token pushes and GET ALL go to the hub with OCPI-to = the hub's own party (OCPI routing, broadcast)."""
    assert OcpiClient.for_partner(hub_with_location).to_party == ("EU", "HUB")


class _HubSender(BaseHTTPRequestHandler):
    pages: list[tuple[list[dict[str, Any]], str]] = []

    def do_GET(self) -> None:
        offset = int(parse_qs(urlsplit(self.path).query).get("offset", ["0"])[0])
        starts = [sum(len(d) for d, _ in self.pages[:i]) for i in range(len(self.pages))]
        data, link = self.pages[starts.index(offset)]
        body = json.dumps({"data": data, "status_code": 1000, "timestamp": "2026-11-01T10:00:00Z"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Total-Count", str(sum(len(d) for d, _ in self.pages)))
        if link:
            self.send_header("Link", f'<{link}>; rel="next"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hub_sender() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HubSender)
    url = f"http://127.0.0.1:{server.server_address[1]}/ocpi/2.2.1/hubclientinfo"
    _HubSender.pages = [
        ([client_info("NL", "AAA"), client_info("BE", "BBB")], f"{url}?offset=2&limit=2"),
        ([client_info("DE", "CCC", "PLANNED"), {"country_code": "XX"}], ""),
    ]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url
    server.shutdown()
    server.server_close()


def test_the_hubs_client_list_is_pulled_page_by_page(hub: tuple[Partner, str], hub_sender: str) -> None:
    partner = connect(hub[0])
    PartnerEndpoint.objects.create(partner=partner, module="hubclientinfo", role="SENDER", url=hub_sender)
    outcome = hub_clients_pull(partner=partner)
    assert (outcome.new, outcome.updated, len(outcome.refused)) == (3, 0, 1)
    assert "invalid client info" in outcome.refused[0]
    statuses = dict(partner.roles.filter(source="hubclientinfo").values_list("party_id", "connection_status"))
    assert statuses == {"AAA": "CONNECTED", "BBB": "CONNECTED", "CCC": "PLANNED"}
    again = hub_clients_pull(partner=partner)
    assert (again.new, again.updated, again.unchanged) == (0, 3, 0)  # same last_updated: applied again (ties apply)
