"""CDRs module, our Receiver interface: stored once, exactly as received, never changed."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from psycopg.types.json import Jsonb

from drivers.models import Token
from drivers.services import driver_create, token_issue
from roaming.models import Cdr, ChargingSession, ImmutableCdr, Partner, Tariff
from roaming.ocpi.v2_2_1 import CDR
from roaming.ocpi.v2_2_1.mapping import cdr_data
from roaming.ocpi.v2_2_1.types import loads
from roaming.records import CdrData
from roaming.services import cdrs as cdr_services
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, registered_partner

URL = "/ocpi/2.2.1/cdrs"


def _cdr(**changes: Any) -> dict[str, Any]:
    body = example("cdrs/cdr_example.json")
    body.update(changes)
    return body


def _path(location: str) -> str:
    return urlparse(location).path


@pytest.fixture
def our_token(db: None) -> Token:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    return token_issue(driver=driver, uid="04A1B2C3")


def test_official_cdr_is_stored_and_read_back_at_the_location_we_answer(ocpi: OcpiTestClient) -> None:
    body = _cdr()
    reply = ocpi.post(URL, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    assert "data" not in reply.body
    cdr = Cdr.objects.get()
    assert reply.headers["Location"] == f"http://127.0.0.1:8000/ocpi/2.2.1/cdrs/{cdr.pk}"

    served = ocpi.get(_path(reply.headers["Location"]))
    assert (served.http_status, served.status_code) == (200, 1000)
    assert served.data == body

    assert (cdr.country_code, cdr.party_id, cdr.ocpi_id) == ("BE", "BEC", "12345")
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (Decimal("4.00"), Decimal("4.40"))
    assert (cdr.total_time_cost_excl_vat, cdr.total_energy_cost_excl_vat) == (Decimal("4.00"), None)
    assert (cdr.total_energy, cdr.total_time, cdr.total_parking_time) == (Decimal("15.342"), Decimal("1.973"), None)
    assert cdr.tariffs[0]["id"] == "12"
    assert cdr.cdr_location["evse_id"] == "BE*BEC*E041503003"
    assert (cdr.credit, cdr.credit_for, cdr.session) == (False, None, None)


def test_the_cdr_is_kept_exactly_as_sent(ocpi: OcpiTestClient) -> None:
    """Evidence: dates without Z, unknown fields and number values come back as they came in."""
    body = _cdr(end_date_time="2015-06-29T23:37:32", vendor_note={"x": 1}, total_energy=15.3421)
    reply = ocpi.post(URL, body)
    assert reply.http_status == 201
    assert Cdr.objects.get().raw == body
    assert ocpi.get(_path(reply.headers["Location"])).data == body


def test_a_repeated_post_creates_nothing_and_answers_the_same_location(ocpi: OcpiTestClient) -> None:
    first = ocpi.post(URL, _cdr())
    again = ocpi.post(URL, _cdr())
    assert (again.http_status, again.status_code) == (200, 1000)
    assert again.headers["Location"] == first.headers["Location"]
    assert Cdr.objects.count() == 1


def test_a_resend_with_another_last_updated_or_number_spelling_is_the_same_cdr(ocpi: OcpiTestClient) -> None:
    first = ocpi.post(URL, _cdr())
    raw = json.dumps(_cdr(last_updated="2015-06-30T10:00:00Z")).replace('"total_time": 1.973', '"total_time": 1.9730')
    again = ocpi.call("POST", URL, raw_body=raw.encode())
    assert (again.http_status, again.status_code, again.headers["Location"]) == (200, 1000, first.headers["Location"])
    assert Cdr.objects.get().raw["last_updated"] == "2015-06-29T22:01:13Z"


def test_concurrent_duplicates_make_one_row(ocpi: OcpiTestClient) -> None:
    """Two POSTs of one CDR at the same moment: both miss the lookup, the unique constraint decides.

    On PostgreSQL the INSERT ... ON CONFLICT DO NOTHING is itself the check: a second POST, concurrent or
    not, inserts nothing and reads the stored row. Elsewhere the links lookup comes first, so its miss
    (the other request had not committed yet) is simulated.
    """
    first = ocpi.post(URL, _cdr())
    real_links = cdr_services._links

    def not_committed_yet(cdr: CdrData) -> Any:
        return real_links(cdr)._replace(stored_pk=None, stored_hash=None)

    with (
        mock.patch.object(cdr_services, "_links", side_effect=not_committed_yet) as links,
        mock.patch.object(cdr_services, "_stored", wraps=cdr_services._stored) as lookup,
    ):
        again = ocpi.post(URL, _cdr())
    # Elsewhere `_links` reads the stored CDR through `_stored` too, before the INSERT fails.
    expected_calls = (0, 1) if connection.vendor == "postgresql" else (1, 2)
    assert (links.call_count, lookup.call_count) == expected_calls
    assert (again.http_status, again.status_code) == (200, 1000)
    assert again.headers["Location"] == first.headers["Location"]
    assert Cdr.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL INSERT's values")
def test_the_single_statement_writes_the_values_django_would(cpo: tuple[Partner, str]) -> None:
    """`_insert_linked` takes the CDR's values as they are (Django only wraps the JSON ones): they must be
    what Django's own save would send, with every optional field set and with none."""
    full = _cdr(
        total_parking_time=0.5, total_fixed_cost={"excl_vat": 1, "incl_vat": 1.21}, remark="r", credit=True,
        credit_reference_id="C1", authorization_reference="A1", session_id="S1",
    )  # fmt: skip
    bare = {k: v for k, v in _cdr().items() if k not in ("session_id", "total_time_cost", "auth_method")}
    for body in (full, {**bare, "auth_method": "WHITELIST"}):
        raw = loads(json.dumps(body))
        data = cdr_data(CDR.model_validate(raw), raw)
        row = cdr_services._unsaved(cpo[0], data)
        django = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in cdr_services._value_fields()]
        ours = cdr_services._column_values(cpo[0], data)
        for field, theirs, mine in zip(cdr_services._value_fields(), django, ours, strict=True):
            if field.attname == "received_at":
                assert abs(mine - theirs) < timedelta(seconds=5)
            elif isinstance(theirs, Jsonb):
                assert (type(mine), mine.obj) == (Jsonb, theirs.obj), field.attname
            else:
                assert (type(mine), mine) == (type(theirs), theirs), field.attname


def test_the_same_id_with_other_content_is_refused_and_the_first_kept(ocpi: OcpiTestClient) -> None:
    first = ocpi.post(URL, _cdr())
    reply = ocpi.post(URL, _cdr(total_cost={"excl_vat": 9.0, "incl_vat": 9.9}))
    assert (reply.http_status, reply.status_code) == (200, 2001)
    assert "credit CDR" in reply.body["status_message"]
    assert reply.headers["Location"] == first.headers["Location"]
    cdr = Cdr.objects.get()
    assert cdr.total_cost_excl_vat == Decimal("4.00")
    assert cdr.raw["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}


def test_a_cdr_for_a_token_we_dont_know_is_kept_and_flagged(ocpi: OcpiTestClient) -> None:
    assert ocpi.post(URL, _cdr()).http_status == 201  # DE/TNM's token
    cdr = Cdr.objects.get()
    assert (cdr.unknown_token, cdr.token, cdr.driver) == (True, None, None)
    assert (cdr.token_uid, cdr.contract_id) == ("012345678", "DE8ACC12E46L89")


def test_a_cdr_for_our_token_is_linked_to_the_driver_session_and_location(
    ocpi: OcpiTestClient, our_token: Token
) -> None:
    cdr_token = {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": our_token.uid,
        "type": "RFID",
        "contract_id": our_token.contract_id,
    }
    ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", example("locations/location_example.json"))
    session = example("sessions/session_example_2_short_finished.json")
    ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/101", {**session, "cdr_token": cdr_token})
    assert ocpi.post(URL, _cdr(session_id="101", cdr_token=cdr_token)).http_status == 201
    cdr = Cdr.objects.get()
    assert (cdr.unknown_token, cdr.token, cdr.driver) == (False, our_token, our_token.driver)
    assert cdr.session == ChargingSession.objects.get()
    assert cdr.location is not None
    assert cdr.location.ocpi_id == "LOC1"


def test_our_token_is_found_whatever_the_case_of_its_uid(ocpi: OcpiTestClient, our_token: Token) -> None:
    """OCPI uids are case-insensitive: a CPO that writes our card's uid in lower case still bills our driver."""
    cdr_token = {"country_code": "NL", "party_id": "EMS", "uid": our_token.uid.lower(), "type": "RFID",
                 "contract_id": our_token.contract_id}  # fmt: skip
    session = example("sessions/session_example_2_short_finished.json")
    ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/101", {**session, "cdr_token": cdr_token})
    assert ocpi.post(URL, _cdr(session_id="101", cdr_token=cdr_token)).http_status == 201
    assert (ChargingSession.objects.get().token, Cdr.objects.get().token) == (our_token, our_token)
    assert (Cdr.objects.get().unknown_token, Cdr.objects.get().driver) == (False, our_token.driver)


def test_a_session_arriving_after_its_cdr_is_linked_to_it(ocpi: OcpiTestClient) -> None:
    ocpi.post(URL, _cdr(session_id="101"))
    assert Cdr.objects.get().session is None
    ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/101", example("sessions/session_example_2_short_finished.json"))
    assert Cdr.objects.get().session == ChargingSession.objects.get()


def test_a_credit_cdr_is_stored_and_linked_to_the_cdr_it_credits(ocpi: OcpiTestClient) -> None:
    ocpi.post(URL, _cdr())
    credit = _cdr(
        id="12345-C",
        credit=True,
        credit_reference_id="12345",
        total_cost={"excl_vat": -4.00, "incl_vat": -4.40},
        total_time_cost={"excl_vat": -4.00, "incl_vat": -4.40},
    )
    reply = ocpi.post(URL, credit)
    assert (reply.http_status, reply.status_code) == (201, 1000)
    original, stored = Cdr.objects.get(ocpi_id="12345"), Cdr.objects.get(ocpi_id="12345-C")
    assert (stored.credit, stored.credit_reference_id, stored.credit_for) == (True, "12345", original)
    assert stored.total_cost_excl_vat == Decimal("-4.00")
    assert list(original.credits.all()) == [stored]


def test_a_credit_that_comes_before_its_original_is_linked_when_the_original_arrives(ocpi: OcpiTestClient) -> None:
    ocpi.post(URL, _cdr(id="12345-C", credit=True, credit_reference_id="12345"))
    assert Cdr.objects.get().credit_for is None
    ocpi.post(URL, _cdr())
    assert Cdr.objects.get(ocpi_id="12345-C").credit_for == Cdr.objects.get(ocpi_id="12345")


def test_saving_a_stored_cdr_again_is_refused(ocpi: OcpiTestClient) -> None:
    ocpi.post(URL, _cdr())
    cdr = Cdr.objects.get()
    cdr.total_cost_excl_vat = Decimal("0")
    with pytest.raises(ImmutableCdr):
        cdr.save()
    assert Cdr.objects.get().total_cost_excl_vat == Decimal("4.00")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_cdrs_cannot_be_changed_over_ocpi(ocpi: OcpiTestClient, method: str) -> None:
    location = ocpi.post(URL, _cdr()).headers["Location"]
    for path in (_path(location), URL):
        reply = ocpi.call(method, path, _cdr(remark="changed"))
        assert (reply.http_status, reply.status_code) == (405, 2000)
    assert Cdr.objects.get().remark == ""


def test_there_is_no_list_to_get_and_no_post_to_a_cdr(ocpi: OcpiTestClient) -> None:
    location = ocpi.post(URL, _cdr()).headers["Location"]
    assert ocpi.get(URL).http_status == 405
    assert ocpi.post(_path(location), _cdr(id="other")).http_status == 405
    assert ocpi.get(f"{URL}/999999").http_status == 404


def test_only_the_owning_connection_reads_a_cdr(ocpi: OcpiTestClient, client: Client) -> None:
    location = ocpi.post(URL, _cdr()).headers["Location"]
    _, token = registered_partner("Other CPO", [("FR", "OTH")])
    other = OcpiTestClient(client, token)
    reply = other.get(_path(location))
    assert reply.http_status == 404
    assert "data" not in reply.body


def test_a_cdr_of_a_party_that_is_not_the_callers_is_refused(ocpi: OcpiTestClient) -> None:
    reply = ocpi.post(URL, _cdr(country_code="FR", party_id="OTH"))
    assert reply.http_status == 404
    assert not Cdr.objects.exists()


@pytest.mark.parametrize("missing", ["cdr_location", "total_cost", "charging_periods", "cdr_token", "last_updated"])
def test_a_partial_cdr_is_refused_and_nothing_is_written(ocpi: OcpiTestClient, missing: str) -> None:
    body = _cdr()
    body.pop(missing)
    reply = ocpi.post(URL, body)
    assert (reply.http_status, reply.status_code) == (200, 2001)
    assert missing in reply.body["status_message"]
    assert "Location" not in reply.headers
    assert not Cdr.objects.exists()


def test_malformed_json_is_400_and_nothing_is_written(ocpi: OcpiTestClient) -> None:
    reply = ocpi.call("POST", URL, raw_body=b'{"id": "12345", ')
    assert (reply.http_status, reply.status_code) == (400, 2001)
    assert not Cdr.objects.exists()


def test_cdrs_endpoint_is_announced_in_version_details(ocpi: OcpiTestClient) -> None:
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in ocpi.get("/ocpi/2.2.1").data["endpoints"]}
    assert endpoints[("cdrs", "RECEIVER")].endswith("/2.2.1/cdrs")
    assert endpoints[("sessions", "RECEIVER")].endswith("/2.2.1/sessions")


def test_admin_lists_cdrs_with_their_flags_and_shows_the_cdr_as_received(
    ocpi: OcpiTestClient, admin_client: Client
) -> None:
    ocpi.post(URL, _cdr())
    cdr = Cdr.objects.get()
    listing = admin_client.get("/admin/roaming/cdr/?unknown_token__exact=1")
    assert listing.status_code == 200
    assert "12345" in listing.content.decode()
    detail = admin_client.get(f"/admin/roaming/cdr/{cdr.pk}/change/")
    assert detail.status_code == 200
    page = detail.content.decode()
    assert '<details class="json"><summary>the whole CDR as the CPO sent it</summary><pre' in page  # folded
    assert "&quot;F.Rooseveltlaan 3A&quot;" in page  # pretty-printed raw JSON, escaped


def _tariff(ocpi: OcpiTestClient, tariff_id: str) -> Tariff:
    body = {
        **example("tariffs/tariff_put_example.json"),
        "country_code": "BE",
        "party_id": "BEC",
        "id": tariff_id,
        "last_updated": "2015-06-29T20:39:09Z",
    }
    assert ocpi.put(f"/ocpi/2.2.1/tariffs/BE/BEC/{tariff_id}", body).status_code == 1000
    return Tariff.objects.get(ocpi_id=tariff_id)


def test_a_cdr_is_linked_to_the_tariffs_it_names_that_we_hold(ocpi: OcpiTestClient) -> None:
    named, other = _tariff(ocpi, "12"), _tariff(ocpi, "13")  # the example CDR names tariff 12
    assert ocpi.post(URL, _cdr()).http_status == 201
    assert ocpi.post(URL, _cdr()).http_status == 200  # a repeat links nothing twice
    cdr = Cdr.objects.get()
    assert list(cdr.linked_tariffs.all()) == [named]
    assert list(other.cdrs.all()) == []


def test_tariffs_named_only_in_charging_periods_are_linked_and_unknown_ones_ignored(ocpi: OcpiTestClient) -> None:
    held = _tariff(ocpi, "P1")
    body = _cdr(tariffs=[])
    body["charging_periods"] = [{**p, "tariff_id": "P1"} for p in body["charging_periods"]]
    body["charging_periods"].append({**body["charging_periods"][0], "tariff_id": "NOT-HELD"})
    assert ocpi.post(URL, body).http_status == 201
    assert list(Cdr.objects.get().linked_tariffs.all()) == [held]
