"""Transport rules every OCPI endpoint follows: tokens, envelopes, ids, routing headers, the log."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from roaming.models import CredentialsToken, Location, OcpiRequestLog, Partner, hash_token
from roaming.services.partners import partner_invite
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient

LOCATION_URL = "/ocpi/2.2.1/locations/BE/BEC/LOC1"


def _envelope_ok(body: dict) -> None:
    assert isinstance(body["status_code"], int)
    assert body["timestamp"].endswith("Z")
    datetime.strptime(body["timestamp"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "Token", "Bearer abc", "Token bm90LWEtdG9rZW4="])
def test_missing_or_unknown_token_gets_401_in_an_envelope(client: Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/ocpi/versions", headers=headers)
    assert response.status_code == 401
    body = json.loads(response.content)
    _envelope_ok(body)
    assert body["status_code"] == 2000
    assert "token" in body["status_message"].lower()


@pytest.mark.parametrize("raw", [False, True])
def test_token_is_accepted_base64_encoded_or_raw(client: Client, cpo: tuple[Partner, str], raw: bool) -> None:
    reply = OcpiTestClient(client, cpo[1], raw=raw).get("/ocpi/versions")
    assert reply.http_status == 200
    assert reply.data == [
        {"version": "2.2.1", "url": "http://127.0.0.1:8000/ocpi/2.2.1"},
        {"version": "2.3.0", "url": "http://127.0.0.1:8000/ocpi/2.3.0"},
        {"version": "2.1.1", "url": "http://127.0.0.1:8000/ocpi/2.1.1"},
    ]


def test_base64_with_trailing_newline_as_in_the_spec_example_is_accepted(
    client: Client, cpo: tuple[Partner, str]
) -> None:
    encoded = base64.b64encode((cpo[1] + "\n").encode()).decode()
    assert client.get("/ocpi/versions", headers={"Authorization": f"Token {encoded}"}).status_code == 200


@pytest.mark.django_db
def test_token_a_opens_versions_and_credentials_only(client: Client) -> None:
    _, token_a = partner_invite(name="New CPO")
    ocpi = OcpiTestClient(client, token_a)
    assert ocpi.get("/ocpi/versions").http_status == 200
    assert ocpi.get("/ocpi/2.2.1").http_status == 200
    assert ocpi.get("/ocpi/2.2.1/credentials").http_status == 200
    reply = ocpi.get(LOCATION_URL)
    assert reply.http_status == 401
    assert reply.status_code == 2000


def test_version_details_list_every_module_we_serve(ocpi: OcpiTestClient) -> None:
    reply = ocpi.get("/ocpi/2.2.1/")
    assert reply.data["version"] == "2.2.1"
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in reply.data["endpoints"]}
    assert endpoints[("credentials", "SENDER")] == "http://127.0.0.1:8000/ocpi/2.2.1/credentials"
    assert ("locations", "RECEIVER") in endpoints
    assert ("tariffs", "RECEIVER") in endpoints


def test_request_and_correlation_ids_are_echoed_and_made_when_missing(ocpi: OcpiTestClient) -> None:
    reply = ocpi.get("/ocpi/versions", headers={"X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"})
    assert reply.headers["X-Request-ID"] == "req-1"
    assert reply.headers["X-Correlation-ID"] == "corr-1"
    fresh = ocpi.get("/ocpi/versions")
    assert len(fresh.headers["X-Request-ID"]) == 36


def test_functional_modules_answer_with_routing_headers(ocpi: OcpiTestClient) -> None:
    ocpi.put(LOCATION_URL, example("locations/location_example.json"))
    reply = ocpi.get(
        LOCATION_URL,
        headers={
            "OCPI-from-country-code": "BE",
            "OCPI-from-party-id": "BEC",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "EMS",
        },
    )
    assert reply.http_status == 200
    assert (reply.headers["OCPI-from-country-code"], reply.headers["OCPI-from-party-id"]) == ("NL", "EMS")
    assert (reply.headers["OCPI-to-country-code"], reply.headers["OCPI-to-party-id"]) == ("BE", "BEC")
    assert "OCPI-from-party-id" not in ocpi.get("/ocpi/versions").headers  # configuration module


def test_routing_header_naming_another_party_is_refused(ocpi: OcpiTestClient) -> None:
    reply = ocpi.put(
        LOCATION_URL,
        example("locations/location_example.json"),
        headers={"OCPI-from-country-code": "NL", "OCPI-from-party-id": "XXX"},
    )
    assert reply.http_status == 403
    assert reply.status_code == 2001
    assert "NL/XXX" in reply.body["status_message"]
    assert not Location.objects.exists()


def test_routing_header_addressing_someone_else_is_refused(ocpi: OcpiTestClient) -> None:
    reply = ocpi.get(LOCATION_URL, headers={"OCPI-to-country-code": "DE", "OCPI-to-party-id": "ABC"})
    assert reply.http_status == 404
    assert reply.status_code == 2001


def test_malformed_json_gets_400_and_2001(ocpi: OcpiTestClient) -> None:
    reply = ocpi.call("PUT", LOCATION_URL, raw_body=b'{"id": "LOC1", ')
    assert reply.http_status == 400
    assert reply.status_code == 2001
    assert "not valid JSON" in reply.body["status_message"]
    assert not Location.objects.exists()


def test_missing_fields_and_wrong_types_are_named_in_the_error(ocpi: OcpiTestClient) -> None:
    body = example("locations/location_example.json")
    del body["address"]
    body["publish"] = "perhaps"
    reply = ocpi.put(LOCATION_URL, body)
    assert reply.http_status == 200  # the request reached the OCPI layer: the OCPI status tells
    assert reply.status_code == 2001
    assert "address" in reply.body["status_message"]
    assert "publish" in reply.body["status_message"]
    assert not Location.objects.exists()


def test_a_crash_is_answered_with_an_envelope_not_a_html_page(
    ocpi: OcpiTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("roaming.ocpi.views.locations.locations_upsert", broken)
    reply = ocpi.put(LOCATION_URL, example("locations/location_example.json"))
    assert reply.http_status == 500
    assert reply.status_code == 3000
    assert "simulated bug" not in json.dumps(reply.body)  # internals stay in our log
    log = OcpiRequestLog.objects.get(direction="in", method="PUT")
    assert "simulated bug" in log.error


def test_every_exchange_is_logged_with_tokens_masked(client: Client, db: None) -> None:
    partner, token_a = partner_invite(name="Logged CPO")
    ocpi = OcpiTestClient(client, token_a)
    ocpi.get("/ocpi/2.2.1/credentials", headers={"X-Request-ID": "find-me"})
    log = OcpiRequestLog.objects.get(request_id="find-me")
    assert log.partner == partner
    assert (log.direction, log.module, log.method, log.http_status, log.ocpi_status) == (
        "in",
        "credentials",
        "GET",
        200,
        1000,
    )
    assert token_a not in log.response_body
    assert f'"token":"{token_a[:4]}****"' in log.response_body


def test_expired_rotation_token_stops_working(client: Client, cpo: tuple[Partner, str]) -> None:
    CredentialsToken.objects.filter(token_hash=hash_token(cpo[1])).update(valid_until=datetime(2020, 1, 1, tzinfo=UTC))
    assert OcpiTestClient(client, cpo[1]).get("/ocpi/versions").http_status == 401
