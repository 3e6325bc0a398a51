"""OCPI 2.2.1 models: patch bodies, cardinalities, coordinates, unknown fields, commands."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from roaming.ocpi.v2_2_1 import (
    EVSE,
    AuthorizationInfo,
    CommandResponse,
    CommandResponseType,
    CommandResult,
    Connector,
    ConnectorPatch,
    EVSEPatch,
    GeoLocation,
    Location,
    LocationPatch,
    LocationReferences,
    OcpiModel,
    PatchModel,
    Session,
    SessionPatch,
    StartSession,
    Status,
    Token,
    TokenPatch,
    describe_validation_error,
    dumps,
    parse_json,
)

PATCH_PAIRS: list[tuple[type[PatchModel], type[OcpiModel]]] = [
    (LocationPatch, Location),
    (EVSEPatch, EVSE),
    (ConnectorPatch, Connector),
    (SessionPatch, Session),
    (TokenPatch, Token),
]


# --- Patch models ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("patch", "full"), PATCH_PAIRS)
def test_patch_model_has_the_fields_of_the_full_object(patch: type[PatchModel], full: type[OcpiModel]) -> None:
    assert set(patch.model_fields) == set(full.model_fields)


@pytest.mark.parametrize(("patch", "full"), PATCH_PAIRS)
def test_patch_requires_last_updated_only(patch: type[PatchModel], full: type[OcpiModel]) -> None:
    required = {name for name, field in patch.model_fields.items() if field.is_required()}
    assert required == {"last_updated"}
    with pytest.raises(ValidationError) as excinfo:
        parse_json(patch, "{}")
    assert describe_validation_error(excinfo.value) == "Missing required field: last_updated"


def test_patch_without_last_updated_names_it() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_json(EVSEPatch, '{"status": "CHARGING"}')
    assert describe_validation_error(excinfo.value) == "Missing required field: last_updated"


def test_patch_fields_are_validated_like_the_full_object() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_json(LocationPatch, '{"id": "%s", "last_updated": "2019-06-24T12:39:09Z"}' % ("x" * 37))
    assert describe_validation_error(excinfo.value) == "Too long: id (max 36 characters, got 37)"


def test_patch_changes_leave_out_unset_and_null_fields() -> None:
    patch = parse_json(
        LocationPatch,
        '{"name": "Interparking Gent Zuid", "postal_code": null, "brand": "x", "last_updated": "2019-06-24T12:39:09Z"}',
    )
    assert patch.changes() == {
        "name": "Interparking Gent Zuid",
        "last_updated": datetime(2019, 6, 24, 12, 39, 9, tzinfo=UTC),
    }
    assert patch.model_extra == {"brand": "x"}
    assert dumps(patch) == '{"last_updated":"2019-06-24T12:39:09Z","name":"Interparking Gent Zuid","brand":"x"}'


def test_token_patch_written_for_a_cpo() -> None:
    patch = TokenPatch(valid=False, last_updated=datetime(2019, 6, 19, 2, 11, 11, tzinfo=UTC))
    assert dumps(patch) == '{"last_updated":"2019-06-19T02:11:11Z","valid":false}'


def test_session_patch_charging_periods_are_full_periods() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_json(
            SessionPatch,
            '{"charging_periods": [{"start_date_time": "2019-06-23T08:16:02Z"}],'
            ' "last_updated": "2019-06-23T08:16:02Z"}',
        )
    assert describe_validation_error(excinfo.value) == "Missing required field: charging_periods.0.dimensions"


def test_evse_patch_with_unknown_status_is_kept() -> None:
    patch = parse_json(EVSEPatch, '{"status": "MAINTENANCE", "last_updated": "2019-06-24T12:39:09Z"}')
    assert patch.status == "MAINTENANCE"
    assert not isinstance(patch.status, Status)


# --- Cardinalities -----------------------------------------------------------------------------------------


def _location_body() -> dict[str, object]:
    return {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "LOC1",
        "publish": True,
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "time_zone": "Europe/Brussels",
        "last_updated": "2015-06-29T20:39:09Z",
    }


def test_optional_lists_default_to_empty_and_accept_null() -> None:
    location = Location.model_validate({**_location_body(), "evses": None, "facilities": None})
    assert location.evses == []
    assert location.facilities == []
    assert location.images == []
    assert location.opening_times is None


def test_required_fields_per_cardinality() -> None:
    required = {name for name, field in Location.model_fields.items() if field.is_required()}
    assert required == {
        "country_code",
        "party_id",
        "id",
        "publish",
        "address",
        "city",
        "country",
        "coordinates",
        "time_zone",
        "last_updated",
    }
    session_required = {name for name, field in Session.model_fields.items() if field.is_required()}
    assert session_required == {
        "country_code",
        "party_id",
        "id",
        "start_date_time",
        "kwh",
        "cdr_token",
        "auth_method",
        "location_id",
        "evse_uid",
        "connector_id",
        "currency",
        "status",
        "last_updated",
    }


def test_unknown_fields_are_kept_as_sent() -> None:
    body = {**_location_body(), "parking_places": [{"id": "P1", "roofed": True}], "help_phone": "+32 1234"}
    location = Location.model_validate(body)
    assert location.model_extra == {
        "parking_places": [{"id": "P1", "roofed": True}],
        "help_phone": "+32 1234",
    }
    assert '"help_phone":"+32 1234"' in dumps(location)


def test_ids_sent_as_numbers_become_strings() -> None:
    location = parse_json(Location, dumps({**_location_body(), "id": 1012}))
    assert location.id == "1012"


# --- Coordinates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        ("51.047599", "3.729944"),  # the spec's 6 decimals
        ("51.0", "3.7"),  # 1 decimal
        ("51.0475990001", "3.7299440001"),  # 10 decimals
        ("-33.86882", "151.20929"),
        ("90.0", "-180.0"),
    ],
)
def test_coordinates_accepted(latitude: str, longitude: str) -> None:
    geo = GeoLocation(latitude=latitude, longitude=longitude)
    assert (geo.latitude, geo.longitude) == (latitude, longitude)


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        ("51", "3.729944", "latitude"),  # no decimals
        ("51.04759900012", "3.729944", "latitude"),  # 11 decimals
        ("51,047599", "3.729944", "latitude"),
        ("123.5", "3.729944", "latitude"),
        ("91.0", "3.729944", "latitude"),
        ("51.047599", "180.5", "longitude"),
        ("51.047599", "1234.5", "longitude"),
        ("51.047599", "east", "longitude"),
    ],
)
def test_coordinates_refused(latitude: str, longitude: str, field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        GeoLocation(latitude=latitude, longitude=longitude)
    assert describe_validation_error(excinfo.value).startswith(f"Invalid value for {field}: ")


def test_coordinates_sent_as_numbers_stay_text() -> None:
    geo = parse_json(GeoLocation, '{"latitude": 51.047599, "longitude": 3.7299440}')
    assert geo.latitude == "51.047599"
    assert geo.longitude == "3.7299440"


# --- Tokens and commands -----------------------------------------------------------------------------------

TOKEN = {
    "country_code": "NL",
    "party_id": "TNM",
    "uid": "012345678",
    "type": "APP_USER",
    "contract_id": "NL8ACC12E46L89",
    "issuer": "TheNewMotion",
    "valid": True,
    "whitelist": "NEVER",
    "last_updated": "2015-06-29T22:39:09Z",
}


def test_authorization_info_round_trip() -> None:
    info = AuthorizationInfo.model_validate(
        {
            "allowed": "ALLOWED",
            "token": TOKEN,
            "location": {"location_id": "LOC1", "evse_uids": ["3256"]},
            "authorization_reference": "ref-1",
        }
    )
    assert parse_json(AuthorizationInfo, dumps(info)) == info
    assert LocationReferences.model_validate({"location_id": "LOC1"}).evse_uids == []


def test_start_session_body() -> None:
    command = StartSession.model_validate(
        {
            "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/0f3c",
            "token": TOKEN,
            "location_id": "LOC1",
            "evse_uid": "3256",
        }
    )
    assert '"location_id":"LOC1"' in dumps(command)
    with pytest.raises(ValidationError) as excinfo:
        StartSession.model_validate({"response_url": "https://x", "location_id": "LOC1"})
    assert describe_validation_error(excinfo.value) == "Missing required field: token"


def test_command_response_and_result() -> None:
    response = parse_json(CommandResponse, '{"result": "ACCEPTED", "timeout": 30}')
    assert response.result is CommandResponseType.ACCEPTED
    assert response.message == []
    result = parse_json(CommandResult, '{"result": "EVSE_OCCUPIED", "message": [{"language": "en", "text": "Busy"}]}')
    assert result.message[0].text == "Busy"


def test_session_kwh_is_decimal() -> None:
    session = Session.model_validate(
        {
            "country_code": "NL",
            "party_id": "STK",
            "id": "101",
            "start_date_time": "2020-03-09T10:17:09Z",
            "kwh": 0.0,
            "cdr_token": {
                "country_code": "NL",
                "party_id": "TST",
                "uid": "123abc",
                "type": "RFID",
                "contract_id": "NL-TST-C12345678-S",
            },
            "auth_method": "WHITELIST",
            "location_id": "LOC1",
            "evse_uid": "#NA",
            "connector_id": "#NA",
            "currency": "EUR",
            "status": "RESERVATION",
            "last_updated": "2020-03-09T10:17:09Z",
        }
    )
    assert session.kwh == Decimal("0")
    assert isinstance(session.kwh, Decimal)
