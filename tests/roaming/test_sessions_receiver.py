"""Sessions module, our Receiver interface: PUT replaces, PATCH merges and appends, stale is not applied."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from drivers.models import Token
from drivers.services import driver_create, token_issue
from roaming.models import ChargingSession, Location
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, registered_partner

URL = "/ocpi/2.2.1/sessions/BE/BEC/101"


def _session(**changes: Any) -> dict[str, Any]:
    body = example("sessions/session_example_2_short_finished.json")
    body.update(changes)
    return body


def _active(**changes: Any) -> dict[str, Any]:
    """A running session under BE/BEC, no periods yet."""
    body = _session(status="ACTIVE", kwh=0, charging_periods=[], last_updated="2015-06-29T22:39:09Z")
    body.pop("end_date_time")
    body.pop("total_cost")
    body.update(changes)
    return body


@pytest.fixture
def our_token(db: None) -> Token:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    return token_issue(driver=driver, uid="04A1B2C3")


def _our_cdr_token(token: Token) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }


# --- PUT and GET -------------------------------------------------------------------------------------------


def test_official_finished_session_is_stored_and_served_back_as_received(ocpi: OcpiTestClient) -> None:
    body = _session()
    reply = ocpi.put(URL, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    stored = ChargingSession.objects.get()
    assert (stored.country_code, stored.party_id, stored.ocpi_id, stored.status) == ("BE", "BEC", "101", "COMPLETED")
    assert stored.kwh == Decimal("41.12")
    assert (stored.total_cost_excl_vat, stored.total_cost_incl_vat) == (Decimal("8.50"), Decimal("9.35"))
    assert (stored.token_uid, stored.token_type, stored.contract_id) == ("123abc", "RFID", "NL-TST-C12345678-S")
    assert len(stored.charging_periods) == 3
    assert stored.token is None  # NL/TST's token, not one of ours: stored all the same

    served = ocpi.get(URL)
    assert (served.http_status, served.status_code) == (200, 1000)
    assert served.data == body


def test_official_pending_session_of_another_party_round_trips(client: Client, db: None) -> None:
    _, token = registered_partner("Stekker", [("NL", "STK")])
    stekker = OcpiTestClient(client, token)
    body = example("sessions/session_example_1_simple_start.json")
    url = "/ocpi/2.2.1/sessions/NL/STK/101"
    assert stekker.put(url, body).http_status == 201
    assert stekker.get(url).data == body
    assert ChargingSession.objects.get().status == "PENDING"


def test_put_replaces_the_session_and_its_charging_periods(ocpi: OcpiTestClient) -> None:
    ocpi.put(URL, _session())
    replacement = _session(kwh=40, last_updated="2015-06-30T00:00:00Z")
    replacement.pop("charging_periods")
    assert ocpi.put(URL, replacement).http_status == 200
    stored = ChargingSession.objects.get()
    assert stored.charging_periods == []
    assert stored.kwh == Decimal("40")
    assert "charging_periods" not in ocpi.get(URL).data


def test_a_session_is_linked_to_our_token_its_driver_and_the_location(ocpi: OcpiTestClient, our_token: Token) -> None:
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", example("locations/location_example.json")).http_status == 201
    ocpi.put(URL, _active(cdr_token=_our_cdr_token(our_token)))
    stored = ChargingSession.objects.get()
    assert stored.token == our_token
    assert stored.driver == our_token.driver
    assert stored.location == Location.objects.get(ocpi_id="LOC1")
    assert stored.ocpi_location_id == "LOC1"


def test_our_uid_under_another_emsp_party_is_not_taken_for_our_token(ocpi: OcpiTestClient, our_token: Token) -> None:
    foreign = {**_our_cdr_token(our_token), "country_code": "DE", "party_id": "XYZ"}
    ocpi.put(URL, _active(cdr_token=foreign))
    stored = ChargingSession.objects.get()
    assert (stored.token, stored.driver, stored.token_uid) == (None, None, our_token.uid)


def test_an_unknown_status_is_kept_as_sent(ocpi: OcpiTestClient) -> None:
    assert ocpi.put(URL, _active(status="SUSPENDED_EV")).status_code == 1000
    assert ChargingSession.objects.get().status == "SUSPENDED_EV"
    assert ocpi.get(URL).data["status"] == "SUSPENDED_EV"


# --- PATCH -------------------------------------------------------------------------------------------------


def test_patch_merges_fields_and_appends_charging_periods(ocpi: OcpiTestClient) -> None:
    ocpi.put(URL, _active(last_updated="2019-06-23T08:00:00Z"))
    assert ocpi.patch(URL, example("sessions/session_patch_example_total_cost.json")).status_code == 1000
    stored = ChargingSession.objects.get()
    assert (stored.total_cost_excl_vat, stored.total_cost_incl_vat) == (Decimal("0.60"), Decimal("0.66"))

    first = example("sessions/session_patch_example_charging_period.json")
    assert ocpi.patch(URL, first).status_code == 1000
    second = copy.deepcopy(first)
    second["charging_periods"][0]["start_date_time"] = "2019-06-23T08:20:00Z"
    second.update(kwh=17.5, last_updated="2019-06-23T08:20:00Z")
    assert ocpi.patch(URL, second).status_code == 1000

    stored.refresh_from_db()
    assert [p["start_date_time"] for p in stored.charging_periods] == ["2019-06-23T08:16:02Z", "2019-06-23T08:20:00Z"]
    assert stored.kwh == Decimal("17.5")
    assert (stored.total_cost_excl_vat, stored.total_cost_incl_vat) == (Decimal("0.80"), Decimal("0.88"))
    served = ocpi.get(URL).data
    assert served["total_cost"] == {"excl_vat": 0.8, "incl_vat": 0.88}
    assert served["last_updated"] == "2019-06-23T08:20:00Z"
    assert len(served["charging_periods"]) == 2


def test_a_repeated_patch_does_not_append_its_periods_twice(ocpi: OcpiTestClient) -> None:
    ocpi.put(URL, _active(last_updated="2019-06-23T08:00:00Z"))
    patch = example("sessions/session_patch_example_charging_period.json")
    assert ocpi.patch(URL, patch).status_code == 1000
    assert ocpi.patch(URL, patch).status_code == 1000  # same last_updated: applied, but nothing new
    assert len(ChargingSession.objects.get().charging_periods) == 1


def test_patch_completes_the_session(ocpi: OcpiTestClient) -> None:
    ocpi.put(URL, _active())
    reply = ocpi.patch(
        URL, {"status": "COMPLETED", "end_date_time": "2015-06-29T23:50:16Z", "last_updated": "2015-06-29T23:50:17Z"}
    )
    assert reply.status_code == 1000
    stored = ChargingSession.objects.get()
    assert stored.status == "COMPLETED"
    assert stored.end_date_time is not None
    assert not stored.is_live


def test_patch_with_a_new_token_relinks_the_driver(ocpi: OcpiTestClient, our_token: Token) -> None:
    ocpi.put(URL, _active())
    patch = {"cdr_token": _our_cdr_token(our_token), "last_updated": "2015-06-29T23:00:00Z"}
    assert ocpi.patch(URL, patch).status_code == 1000
    stored = ChargingSession.objects.get()
    assert (stored.token, stored.driver) == (our_token, our_token.driver)
    assert ocpi.get(URL).data["cdr_token"] == patch["cdr_token"]


def test_patch_without_last_updated_is_refused_and_changes_nothing(ocpi: OcpiTestClient) -> None:
    ocpi.put(URL, _active())
    reply = ocpi.patch(URL, {"kwh": 5})
    assert (reply.http_status, reply.status_code) == (200, 2001)
    assert "last_updated" in reply.body["status_message"]
    assert ChargingSession.objects.get().kwh == 0


def test_patch_of_an_unknown_session_is_404(ocpi: OcpiTestClient) -> None:
    reply = ocpi.patch("/ocpi/2.2.1/sessions/BE/BEC/NOPE", {"kwh": 1, "last_updated": "2020-01-01T00:00:00Z"})
    assert reply.http_status == 404
    assert not ChargingSession.objects.exists()


# --- stale and equal timestamps ----------------------------------------------------------------------------


def test_older_put_and_patch_are_not_applied(ocpi: OcpiTestClient) -> None:
    ocpi.put(URL, _session())
    older = _session(kwh=1, status="ACTIVE", last_updated="2015-06-29T22:00:00Z")
    reply = ocpi.put(URL, older)
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert "Not applied" in reply.body["status_message"]
    reply = ocpi.patch(URL, {"kwh": 2, "last_updated": "2015-06-29T22:00:00Z"})
    assert "Not applied" in reply.body["status_message"]
    stored = ChargingSession.objects.get()
    assert (stored.kwh, stored.status) == (Decimal("41.12"), "COMPLETED")


def test_an_update_with_an_equal_last_updated_is_applied(ocpi: OcpiTestClient) -> None:
    stamp = "2015-06-29T22:39:09Z"
    assert ocpi.put(URL, _active(status="PENDING", last_updated=stamp)).http_status == 201
    reply = ocpi.put(URL, _active(status="ACTIVE", last_updated=stamp))
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert "status_message" not in reply.body
    assert ChargingSession.objects.get().status == "ACTIVE"
    assert ocpi.patch(URL, {"kwh": 3, "last_updated": stamp}).status_code == 1000
    assert ChargingSession.objects.get().kwh == 3


def test_at_an_equal_last_updated_the_status_never_goes_back(ocpi: OcpiTestClient) -> None:
    """Same timestamp, ACTIVE then PENDING: a reordered delivery of the PENDING, not a change."""
    stamp = "2015-06-29T22:39:09Z"
    ocpi.put(URL, _active(status="ACTIVE", last_updated=stamp))
    assert "Not applied" in ocpi.put(URL, _active(status="PENDING", last_updated=stamp)).body["status_message"]
    assert "Not applied" in ocpi.patch(URL, {"status": "PENDING", "last_updated": stamp}).body["status_message"]
    assert ChargingSession.objects.get().status == "ACTIVE"
    # A later timestamp is the CPO's word, whatever the status.
    assert ocpi.patch(URL, {"status": "PENDING", "last_updated": "2015-06-29T22:40:00Z"}).status_code == 1000
    assert ChargingSession.objects.get().status == "PENDING"


# --- refused -----------------------------------------------------------------------------------------------


def test_ids_in_the_url_must_match_the_body(ocpi: OcpiTestClient) -> None:
    reply = ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/999", _session())
    assert (reply.http_status, reply.status_code) == (200, 2001)
    reply = ocpi.put("/ocpi/2.2.1/sessions/DE/ALL/101", _session())
    assert reply.status_code == 2001
    assert not ChargingSession.objects.exists()
    ocpi.put(URL, _session())
    reply = ocpi.patch(URL, {"id": "999", "kwh": 1, "last_updated": "2030-01-01T00:00:00Z"})
    assert reply.status_code == 2001
    assert ChargingSession.objects.get().kwh == Decimal("41.12")


@pytest.mark.parametrize("missing", ["kwh", "cdr_token", "status", "last_updated", "location_id"])
def test_a_partial_session_is_refused_and_nothing_is_written(ocpi: OcpiTestClient, missing: str) -> None:
    body = _session()
    body.pop(missing)
    reply = ocpi.put(URL, body)
    assert (reply.http_status, reply.status_code) == (200, 2001)
    assert missing in reply.body["status_message"]
    assert not ChargingSession.objects.exists()


def test_malformed_json_is_400_with_an_envelope(ocpi: OcpiTestClient) -> None:
    reply = ocpi.call("PUT", URL, raw_body=b'{"id": "101",')
    assert (reply.http_status, reply.status_code) == (400, 2001)
    assert not ChargingSession.objects.exists()


def test_a_party_that_is_not_the_callers_is_404(ocpi: OcpiTestClient, client: Client) -> None:
    body = _session(country_code="NL", party_id="XXX")
    assert ocpi.put("/ocpi/2.2.1/sessions/NL/XXX/101", body).http_status == 404
    assert not ChargingSession.objects.exists()

    ocpi.put(URL, _session())
    _, other_token = registered_partner("Other CPO", [("FR", "OTH")])
    other = OcpiTestClient(client, other_token)
    assert other.get(URL).http_status == 404
    assert other.patch(URL, {"kwh": 1, "last_updated": "2030-01-01T00:00:00Z"}).http_status == 404
    assert ChargingSession.objects.get().kwh == Decimal("41.12")


def test_post_and_delete_are_not_allowed(ocpi: OcpiTestClient) -> None:
    assert ocpi.post(URL, _session()).http_status == 405
    reply = ocpi.delete(URL)
    assert (reply.http_status, reply.status_code) == (405, 2000)


def test_admin_lists_live_sessions(ocpi: OcpiTestClient, admin_client: Client, our_token: Token) -> None:
    ocpi.put(URL, _active(cdr_token=_our_cdr_token(our_token)))
    ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/102", _session(id="102"))
    live = admin_client.get("/admin/roaming/chargingsession/?live=yes")
    assert live.status_code == 200
    assert ">101<" in live.content.decode()
    assert ">102<" not in live.content.decode()
    ended = admin_client.get("/admin/roaming/chargingsession/?live=no").content.decode()
    assert ">102<" in ended
    session = ChargingSession.objects.get(ocpi_id="101")
    assert admin_client.get(f"/admin/roaming/chargingsession/{session.pk}/change/").status_code == 200
