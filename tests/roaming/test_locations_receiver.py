"""Locations module, our Receiver interface: what a CPO pushes is stored, served back, never mixed up."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from roaming.models import Connector, Evse, EvseStatusChange, Location, Partner
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, registered_partner

URL = "/ocpi/2.2.1/locations/BE/BEC/LOC1"


@pytest.fixture
def location(ocpi: OcpiTestClient) -> dict[str, Any]:
    body = example("locations/location_example.json")
    assert ocpi.put(URL, body).http_status == 201
    return body


def _evse(uid: str = "3256", status: str = "AVAILABLE", last_updated: str = "2019-06-24T12:39:09Z") -> dict:
    return {
        "uid": uid,
        "evse_id": f"BE*BEC*E{uid}",
        "status": status,
        "capabilities": ["RESERVABLE"],
        "connectors": [
            {
                "id": "1",
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": "AC_3_PHASE",
                "max_voltage": 230,
                "max_amperage": 32,
                "tariff_ids": ["14"],
                "last_updated": last_updated,
            }
        ],
        "last_updated": last_updated,
    }


def test_put_location_stores_it_and_get_serves_it_back(ocpi: OcpiTestClient, location: dict) -> None:
    stored = Location.objects.get()
    assert (stored.country_code, stored.party_id, stored.ocpi_id, stored.city) == (
        "BE",
        "BEC",
        "LOC1",
        location["city"],
    )
    assert stored.evses.count() == len(location["evses"])
    assert Connector.objects.filter(evse__location=stored).count() == sum(
        len(e["connectors"]) for e in location["evses"]
    )
    served = ocpi.get(URL).data
    assert served == location  # everything the CPO sent, as it sent it


def test_ids_appended_without_a_slash_reach_the_same_objects(ocpi: OcpiTestClient, location: dict) -> None:
    """Some partners append ids to the URL we announce as they are: `.../locationsBE/BEC/LOC1`."""
    slashless = URL.replace("/locations/", "/locations")
    assert ocpi.get(slashless).data == location
    reply = ocpi.put(f"{slashless}/3257", _evse("3257", status="CHARGING", last_updated="2019-06-25T00:00:00Z"))
    assert reply.status_code == 1000, reply
    assert Evse.objects.get(uid="3257").status == "CHARGING"
    assert ocpi.get("/ocpi/2.2.1/locationsBE/BEC/NO-SUCH").status_code == 2003  # an OCPI answer, not HTML
    assert ocpi.get("/ocpi/2.2.1/locationsXX").status_code == 2000  # an unknown path, in an envelope


def test_put_again_replaces_and_answers_200(ocpi: OcpiTestClient, location: dict) -> None:
    changed = {**location, "name": "Renamed", "last_updated": "2019-06-25T00:00:00Z"}
    reply = ocpi.put(URL, changed)
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert Location.objects.get().name == "Renamed"


def test_location_put_without_an_evse_marks_that_evse_removed(ocpi: OcpiTestClient, location: dict) -> None:
    kept = location["evses"][0]
    ocpi.put(URL, {**location, "evses": [kept], "last_updated": "2019-06-25T00:00:00Z"})
    gone = Evse.objects.exclude(uid=kept["uid"]).get()
    assert gone.removed_at is not None
    assert Evse.objects.filter(removed_at__isnull=True).count() == 1


def test_older_put_is_not_applied(ocpi: OcpiTestClient, location: dict) -> None:
    older = {**location, "name": "Stale", "last_updated": "2015-01-01T00:00:00Z"}
    reply = ocpi.put(URL, older)
    assert reply.status_code == 1000
    assert "Not applied" in reply.body["status_message"]
    assert Location.objects.get().name == location["name"]


def test_put_evse_adds_it_and_put_connector_replaces_one(ocpi: OcpiTestClient, location: dict) -> None:
    assert ocpi.put(f"{URL}/3258", _evse("3258")).http_status == 201
    assert Evse.objects.get(uid="3258").connectors.get().max_amperage == 32
    connector = {**_evse("3258")["connectors"][0], "max_amperage": 16, "last_updated": "2019-06-25T00:00:00Z"}
    assert ocpi.put(f"{URL}/3258/1", connector).http_status == 200
    assert ocpi.get(f"{URL}/3258/1").data["max_amperage"] == 16
    assert ocpi.get(f"{URL}/3258").data["connectors"][0]["max_amperage"] == 16


def test_evse_put_for_an_unknown_location_is_rejected(ocpi: OcpiTestClient, db: None) -> None:
    reply = ocpi.put("/ocpi/2.2.1/locations/BE/BEC/NOPE/3258", _evse("3258"))
    assert (reply.http_status, reply.status_code) == (404, 2003)
    assert "NOPE" in reply.body["status_message"]
    assert not Evse.objects.exists()


def test_partial_evse_from_the_spec_example_is_rejected_with_the_missing_fields(
    ocpi: OcpiTestClient, location: dict
) -> None:
    reply = ocpi.put(f"{URL}/3256", example("locations/location_put_example_add_evse.json"))
    assert reply.status_code == 2001
    for field in ("power_type", "max_voltage", "max_amperage", "last_updated"):
        assert field in reply.body["status_message"]
    assert Evse.objects.get(uid="3256").evse_id == location["evses"][0]["evse_id"]  # untouched


def test_patch_evse_status_updates_it_and_records_history(ocpi: OcpiTestClient, location: dict) -> None:
    uid = location["evses"][0]["uid"]
    before = EvseStatusChange.objects.filter(evse__uid=uid).count()
    reply = ocpi.patch(f"{URL}/{uid}", {"status": "CHARGING", "last_updated": "2019-06-25T12:00:00Z"})
    assert (reply.http_status, reply.status_code) == (200, 1000)
    evse = Evse.objects.get(uid=uid)
    assert evse.status == "CHARGING"
    assert EvseStatusChange.objects.filter(evse=evse).count() == before + 1
    served = ocpi.get(URL).data
    assert served["last_updated"] == "2019-06-25T12:00:00Z"  # a location's last_updated covers its EVSEs


def test_patch_with_the_same_status_adds_no_history(ocpi: OcpiTestClient, location: dict) -> None:
    uid = location["evses"][0]["uid"]
    status = location["evses"][0]["status"]
    before = EvseStatusChange.objects.count()
    reply = ocpi.patch(f"{URL}/{uid}", {"status": status, "last_updated": "2019-06-25T12:00:00Z"})
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert EvseStatusChange.objects.count() == before
    assert Evse.objects.get(uid=uid).last_updated == datetime(2019, 6, 25, 12, tzinfo=UTC)  # newer time kept


def test_patch_older_than_stored_is_not_applied(ocpi: OcpiTestClient, location: dict) -> None:
    uid = location["evses"][0]["uid"]
    ocpi.patch(f"{URL}/{uid}", {"status": "CHARGING", "last_updated": "2019-06-25T12:00:00Z"})
    reply = ocpi.patch(f"{URL}/{uid}", {"status": "AVAILABLE", "last_updated": "2019-06-25T11:00:00Z"})
    assert reply.status_code == 1000
    assert Evse.objects.get(uid=uid).status == "CHARGING"


def test_patch_without_last_updated_is_2001(ocpi: OcpiTestClient, location: dict) -> None:
    uid = location["evses"][0]["uid"]
    reply = ocpi.patch(f"{URL}/{uid}", {"status": "CHARGING"})
    assert reply.status_code == 2001
    assert "last_updated" in reply.body["status_message"]
    assert Evse.objects.get(uid=uid).status == location["evses"][0]["status"]


def test_patch_removing_an_evse_as_in_the_spec(ocpi: OcpiTestClient, location: dict) -> None:
    uid = location["evses"][0]["uid"]
    patch = {**example("locations/location_patch_example_remove_evse.json"), "last_updated": "2019-06-25T00:00:00Z"}
    ocpi.patch(f"{URL}/{uid}", patch)
    evse = Evse.objects.get(uid=uid)
    assert evse.status == "REMOVED"
    assert evse.removed_at is not None


def test_patch_location_name_and_connector_tariffs(ocpi: OcpiTestClient, location: dict) -> None:
    name_patch = {**example("locations/location_patch_example_location.json"), "last_updated": "2019-06-25T00:00:00Z"}
    assert ocpi.patch(URL, name_patch).status_code == 1000
    assert Location.objects.get().name == name_patch["name"]
    evse = location["evses"][0]
    connector_url = f"{URL}/{evse['uid']}/{evse['connectors'][0]['id']}"
    tariff_patch = {**example("locations/location_patch_example_tariff.json"), "last_updated": "2019-06-25T00:00:00Z"}
    assert ocpi.patch(connector_url, tariff_patch).status_code == 1000
    assert ocpi.get(connector_url).data["tariff_ids"] == tariff_patch["tariff_ids"]


def test_patch_of_unknown_objects_tells_the_cpo_to_put_first(ocpi: OcpiTestClient, location: dict) -> None:
    body = {"status": "CHARGING", "last_updated": "2019-06-25T12:00:00Z"}
    assert ocpi.patch(f"{URL}/NOPE", body).http_status == 404
    assert ocpi.patch("/ocpi/2.2.1/locations/BE/BEC/NOPE", body).status_code == 2003


def test_ids_in_url_and_body_must_agree(ocpi: OcpiTestClient, db: None) -> None:
    body = example("locations/location_example.json")
    reply = ocpi.put("/ocpi/2.2.1/locations/BE/BEC/OTHER", body)
    assert reply.status_code == 2001
    assert "LOC1" in reply.body["status_message"]
    assert not Location.objects.exists()


def test_get_of_unknown_objects_is_404(ocpi: OcpiTestClient, location: dict) -> None:
    assert ocpi.get("/ocpi/2.2.1/locations/BE/BEC/NOPE").http_status == 404
    assert ocpi.get(f"{URL}/NOPE").http_status == 404
    assert ocpi.get(f"{URL}/{location['evses'][0]['uid']}/NOPE").http_status == 404


def test_a_cpo_can_never_read_or_write_another_partys_objects(
    client: Client, ocpi: OcpiTestClient, location: dict
) -> None:
    _, other_token = registered_partner("Other CPO", [("NL", "OTH")])
    other = OcpiTestClient(client, other_token)
    assert other.get(URL).http_status == 404
    hijack = copy.deepcopy(location)
    hijack["name"] = "Hijacked"
    hijack["last_updated"] = "2030-01-01T00:00:00Z"
    assert other.put(URL, hijack).http_status == 404
    assert (
        other.patch(
            f"{URL}/{location['evses'][0]['uid']}", {"status": "OUTOFORDER", "last_updated": "2030-01-01T00:00:00Z"}
        ).http_status
        == 404
    )
    assert Location.objects.get().name == location["name"]
    # Its own party works, and stays apart from the first CPO's.
    own = {**location, "country_code": "NL", "party_id": "OTH"}
    assert other.put("/ocpi/2.2.1/locations/NL/OTH/LOC1", own).http_status == 201
    assert Location.objects.filter(ocpi_id="LOC1").count() == 2
    assert set(Location.objects.values_list("partner__name", flat=True)) == {"Example CPO", "Other CPO"}


def test_every_official_location_example_is_accepted(client: Client, db: None) -> None:
    _, token = registered_partner(
        "Example platform", [("BE", "BEC"), ("SE", "EVC"), ("NL", "ALF"), ("NL", "ALL"), ("DE", "ALL")]
    )
    ocpi = OcpiTestClient(client, token)
    names = [
        "location_example.json",
        "location_example_parking_garage_opening_hours.json",
        "location_example_uc2_destination_charger.json",
        "location_example_uc3_destination_charger_not_published.json",
        "location_example_uc4_limited_visibility.json",
        "location_example_uc5_home_charge_point.json",
    ]
    for name in names:
        body = example(f"locations/{name}")
        url = f"/ocpi/2.2.1/locations/{body['country_code']}/{body['party_id']}/{body['id']}"
        reply = ocpi.put(url, body)
        assert reply.status_code == 1000, (name, reply.body)
        assert ocpi.get(url).data == body, name
    assert Partner.objects.get(name="Example platform").locations.count() == 5  # uc2 and uc3 share an id


def test_successful_status_patches_are_recorded_in_history_not_the_request_log(
    ocpi: OcpiTestClient, location: dict, settings: Any
) -> None:
    from roaming.models import OcpiRequestLog

    uid = location["evses"][0]["uid"]
    ocpi.patch(f"{URL}/{uid}", {"status": "CHARGING", "last_updated": "2019-06-25T12:00:00Z"})
    assert not OcpiRequestLog.objects.filter(method="PATCH").exists()
    assert EvseStatusChange.objects.filter(evse__uid=uid, status="CHARGING").exists()
    ocpi.patch(f"{URL}/{uid}", {"status": "AVAILABLE", "last_updated": "2019-06-25T11:00:00Z"})  # stale
    assert OcpiRequestLog.objects.filter(method="PATCH").count() == 1
    settings.OCPI_REQUEST_LOG_STATUS_PATCHES = True
    ocpi.patch(f"{URL}/{uid}", {"status": "AVAILABLE", "last_updated": "2019-06-25T13:00:00Z"})
    assert OcpiRequestLog.objects.filter(method="PATCH").count() == 2
