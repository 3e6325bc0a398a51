"""OCPI 2.2.1 shared types: DateTime tolerance, exact numbers in JSON, open enums, length limits, errors."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from roaming.ocpi.v2_2_1 import (
    CDR,
    EVSE,
    Capability,
    ConnectorType,
    Credentials,
    Envelope,
    Location,
    Price,
    Status,
    Token,
    describe_validation_error,
    dumps,
    format_datetime,
    loads,
    parse_datetime,
    parse_json,
    to_json_bytes,
)
from roaming.ocpi.v2_2_1.types import OPEN_ENUM_MAX_LENGTH, JsonLimitError

EXPECTED = datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


def _token(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "country_code": "NL",
        "party_id": "TNM",
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "NL8ACC12E46L89",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2015-06-29T20:39:09Z",
    }
    body.update(overrides)
    return body


def _connector(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 16,
        "last_updated": "2019-06-24T12:39:09Z",
    }
    body.update(overrides)
    return body


def _evse(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uid": "3256",
        "status": "AVAILABLE",
        "connectors": [_connector()],
        "last_updated": "2019-06-24T12:39:09Z",
    }
    body.update(overrides)
    return body


def _location(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "LOC1",
        "publish": True,
        "address": "F.Rooseveltlaan 3A",
        "city": "Gent",
        "country": "BEL",
        "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
        "evses": [_evse()],
        "time_zone": "Europe/Brussels",
        "last_updated": "2015-06-29T20:39:09Z",
    }
    body.update(overrides)
    return body


# --- DateTime --------------------------------------------------------------------------------------------

DATETIME_CASES = [
    ("2015-06-29T20:39:09Z", EXPECTED),
    ("2015-06-29T20:39:09", EXPECTED),  # no Z: UTC all the same
    ("2015-06-29T20:39:09+00:00", EXPECTED),
    ("2015-06-29T22:39:09+02:00", EXPECTED),  # other offsets converted to UTC
    ("2015-06-29T18:09:09-02:30", EXPECTED),
    ("2015-06-29T22:39:09+0200", EXPECTED),
    ("2015-06-29t20:39:09z", EXPECTED),
    ("2015-06-29T20:39:09.0Z", EXPECTED),  # 1 fractional digit
    ("2015-06-29T20:39:09.2Z", EXPECTED.replace(microsecond=200000)),
    ("2015-06-29T20:39:09.123", EXPECTED.replace(microsecond=123000)),  # 3 digits
    ("2015-06-29T20:39:09.123456Z", EXPECTED.replace(microsecond=123456)),  # 6 digits
    ("2015-06-29T20:39:09.123456789Z", EXPECTED.replace(microsecond=123456)),  # 9: truncated to µs
    ("2015-06-29T22:39:09.5+02:00", EXPECTED.replace(microsecond=500000)),
]


@pytest.mark.parametrize(("text", "expected"), DATETIME_CASES)
def test_parse_datetime_accepts(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(("text", "expected"), DATETIME_CASES)
def test_datetime_field_accepts(text: str, expected: datetime) -> None:
    token = Token.model_validate(_token(last_updated=text))
    assert token.last_updated == expected
    assert token.last_updated.tzinfo is UTC


GARBAGE = [
    "",
    "yesterday",
    "2015-06-29",
    "2015-06-29T20:39Z",  # no seconds
    "2015-06-29 20:39:09Z",
    "2015-06-29T20:39:09.Z",
    "2015-06-29T20:39:09.1234567890Z",  # 10 fractional digits
    "2015-13-29T20:39:09Z",
    "2015-06-31T20:39:09Z",
    "2015-06-29T24:39:09Z",
    "2015-06-29T20:39:09+24:00",
    "2015-06-29T20:39:09 UTC",
    "20150629T203909Z",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
]


@pytest.mark.parametrize("text", GARBAGE)
def test_parse_datetime_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not an OCPI DateTime"):
        parse_datetime(text)


@pytest.mark.parametrize("value", [*GARBAGE, 1435610349, None, 3.5])
def test_datetime_field_rejects(value: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Token.model_validate(_token(last_updated=value))
    assert describe_validation_error(excinfo.value) == (
        "Invalid value for last_updated: Invalid DateTime, expected e.g. 2015-06-29T20:39:09Z"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (EXPECTED, "2015-06-29T20:39:09Z"),
        (EXPECTED.replace(microsecond=200000), "2015-06-29T20:39:09.200Z"),
        (EXPECTED.replace(microsecond=123456), "2015-06-29T20:39:09.123Z"),  # at most milliseconds
        (EXPECTED.replace(microsecond=999), "2015-06-29T20:39:09Z"),  # below a millisecond: dropped
        (datetime(2015, 6, 29, 22, 39, 9, tzinfo=timezone(timedelta(hours=2))), "2015-06-29T20:39:09Z"),
        (datetime(2015, 6, 29, 20, 39, 9), "2015-06-29T20:39:09Z"),  # naive = UTC
    ],
)
def test_format_datetime(value: datetime, text: str) -> None:
    assert format_datetime(value) == text
    assert len(text) <= 25  # DateTime is string(25)


def test_datetime_objects_given_in_python_are_normalised_to_utc() -> None:
    token = Token.model_validate(_token(last_updated=datetime(2015, 6, 29, 20, 39, 9)))
    assert token.last_updated == EXPECTED
    assert token.last_updated.tzinfo is UTC
    cest = datetime(2015, 6, 29, 22, 39, 9, tzinfo=timezone(timedelta(hours=2)))
    assert Token.model_validate(_token(last_updated=cest)).last_updated.tzinfo is UTC


def test_datetimes_are_written_with_z() -> None:
    token = Token.model_validate(_token(last_updated="2015-06-29T22:39:09.5+02:00"))
    assert '"last_updated":"2015-06-29T20:39:09.500Z"' in dumps(token)
    assert token.model_dump(mode="json")["last_updated"] == "2015-06-29T20:39:09.500Z"
    assert token.model_dump()["last_updated"] == EXPECTED.replace(microsecond=500000)


# --- Decimal precision through JSON ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0.1", "2.875", "10", "2.00", "0.0006", "-4.00", "12345678.123456789012345678"])
def test_decimal_survives_parse_and_dumps_digit_for_digit(text: str) -> None:
    price = parse_json(Price, f'{{"excl_vat": {text}}}')
    assert isinstance(price.excl_vat, Decimal)
    assert price.excl_vat == Decimal(text)
    assert dumps(price) == f'{{"excl_vat":{text}}}'


def test_decimals_are_json_numbers_not_strings() -> None:
    price = Price(excl_vat=Decimal("0.1"), incl_vat=Decimal("2.875"))
    other = Price(excl_vat=Decimal("10"))
    assert dumps(price) == '{"excl_vat":0.1,"incl_vat":2.875}'
    assert dumps(other) == '{"excl_vat":10}'
    # model_dump(mode="json") and model_dump_json() also give numbers, with the same digits.
    assert json.dumps(price.model_dump(mode="json")) == '{"excl_vat": 0.1, "incl_vat": 2.875}'
    assert json.dumps(other.model_dump(mode="json", exclude_none=True)) == '{"excl_vat": 10}'
    assert price.model_dump_json() == '{"excl_vat":0.1,"incl_vat":2.875}'
    assert price.model_dump()["excl_vat"] == Decimal("0.1")  # Python mode keeps the Decimal


def test_model_dump_json_mode_rounds_only_beyond_float_precision_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    artefact = Price(excl_vat=Decimal("41.120000000000005"))  # a partner's float maths, 17 digits
    with caplog.at_level(logging.WARNING, logger="roaming.ocpi"):
        assert artefact.model_dump_json() == '{"excl_vat":41.120000000000005,"incl_vat":null}'
    assert not caplog.records

    too_long = Price(excl_vat=Decimal("0.12345678901234567890"))
    with caplog.at_level(logging.WARNING, logger="roaming.ocpi"):
        assert too_long.model_dump(mode="json")["excl_vat"] == 0.12345678901234568
    assert "dumps() keeps it exact" in caplog.text
    assert dumps(too_long) == '{"excl_vat":0.12345678901234567890}'


def test_numbers_read_from_floats_become_decimals() -> None:
    price = Price.model_validate({"excl_vat": 0.1, "incl_vat": 4})
    assert price.excl_vat == Decimal("0.1")
    assert isinstance(price.incl_vat, Decimal)


def test_extra_fields_keep_exact_numbers() -> None:
    price = parse_json(Price, '{"excl_vat": 1, "vat_rate": 21.00, "nested": {"x": [0.10]}}')
    assert price.model_extra == {"vat_rate": Decimal("21.00"), "nested": {"x": [Decimal("0.10")]}}
    assert dumps(price) == '{"excl_vat":1,"vat_rate":21.00,"nested":{"x":[0.10]}}'
    assert price.model_dump(mode="json") == {
        "excl_vat": 1,
        "incl_vat": None,
        "vat_rate": 21.0,
        "nested": {"x": [0.1]},
    }


@pytest.mark.parametrize("body", ['{"excl_vat": NaN}', '{"excl_vat": Infinity}', '{"excl_vat": 1,}', "{"])
def test_loads_rejects_what_is_not_json(body: str) -> None:
    with pytest.raises(ValueError):  # JSONDecodeError or our NaN refusal
        loads(body)


def test_loads_rejects_invalid_utf8() -> None:
    with pytest.raises(ValueError):  # UnicodeDecodeError
        loads(b'{"name": "\xff"}')


def test_loads_reads_utf8_only_and_tolerates_a_byte_order_mark() -> None:
    assert loads(b'\xef\xbb\xbf{"name": "caf\xc3\xa9"}') == {"name": "café"}
    with pytest.raises(ValueError):  # json.loads alone would read UTF-16, hiding \u0000 escapes from the checks
        loads('{"name": "a\\u0000"}'.encode("utf-16"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 65 + "]" * 65, "nested deeper than 64 levels"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ('{"a": "x\\u0000"}', "NUL"),
        ('{"a\\u0000": 1}', "key"),
        ('["\\ud83d"]', "lone surrogate"),
        ('["\\uDE00 "]', "lone surrogate"),
        ('{"a": 1e1001}', "out of range"),
        ('{"a": 1.5e-1002}', "out of range"),
        ('{"a": 0.' + "0" * 1001 + "1}", "out of range"),
    ],
)
def test_loads_refuses_json_that_no_column_can_hold(body: str, message: str) -> None:
    with pytest.raises(JsonLimitError, match=message):
        loads(body)


def test_loads_reads_what_is_near_its_limits() -> None:
    assert loads("[" * 64 + "]" * 64) is not None
    assert loads('["\\ud83d\\ude00", "C:\\\\u0000", 1e1000, 1e-1000]') == [
        "😀",
        "C:\\u0000",
        Decimal("1e1000"),
        Decimal("1e-1000"),
    ]


def test_non_finite_decimals_are_refused() -> None:
    with pytest.raises(ValidationError):
        Price(excl_vat=Decimal("NaN"))
    with pytest.raises(ValueError, match="not a JSON number"):
        dumps({"x": Decimal("Infinity")})


def test_to_json_bytes_is_utf8_without_escapes() -> None:
    body = to_json_bytes(Location.model_validate(_location(city="Köln")))
    assert '"city":"Köln"'.encode() in body


# --- Open enums --------------------------------------------------------------------------------------------


def test_known_enum_values_become_members() -> None:
    evse = EVSE.model_validate(_evse(capabilities=["RESERVABLE"]))
    assert evse.status is Status.AVAILABLE
    assert evse.capabilities == [Capability.RESERVABLE]
    assert isinstance(evse.capabilities[0], Capability)


def test_mixed_case_connector_type_is_known() -> None:
    evse = EVSE.model_validate(_evse(connectors=[_connector(standard="IEC_60309_2_single_16")]))
    assert evse.connectors[0].standard is ConnectorType.IEC_60309_2_SINGLE_16


def test_unknown_enum_value_is_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="roaming.ocpi"):
        evse = EVSE.model_validate(_evse(status="OUT_OF_SERVICE", capabilities=["RESERVABLE", "PLUG_AND_CHARGE"]))
    assert evse.status == "OUT_OF_SERVICE"
    assert not isinstance(evse.status, Status)
    assert type(evse.status) is str
    assert evse.capabilities == [Capability.RESERVABLE, "PLUG_AND_CHARGE"]
    messages = [r.getMessage() for r in caplog.records if r.name == "roaming.ocpi"]
    assert "Unknown OCPI Status value 'OUT_OF_SERVICE': kept as sent" in messages
    assert "Unknown OCPI Capability value 'PLUG_AND_CHARGE': kept as sent" in messages
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "roaming.ocpi")
    # ... and written back exactly as received.
    text = dumps(evse)
    assert '"status":"OUT_OF_SERVICE"' in text
    assert '"capabilities":["RESERVABLE","PLUG_AND_CHARGE"]' in text
    assert evse.model_dump(mode="json")["status"] == "OUT_OF_SERVICE"


def test_unknown_enum_values_are_kept_up_to_the_longest_known_length() -> None:
    longest = max((v for e in (Status, Capability, ConnectorType) for v in e), key=len)
    assert len(longest) == OPEN_ENUM_MAX_LENGTH  # START_SESSION_CONNECTOR_REQUIRED
    assert EVSE.model_validate(_evse(status="S" * OPEN_ENUM_MAX_LENGTH)).status == "S" * OPEN_ENUM_MAX_LENGTH
    with pytest.raises(ValidationError) as excinfo:
        EVSE.model_validate(_evse(status="S" * 33, capabilities=["C" * 40]))
    assert describe_validation_error(excinfo.value) == (
        "Invalid value for status: Unknown Status value: at most 32 characters, got 33; "
        "Invalid value for capabilities.0: Unknown Capability value: at most 32 characters, got 40"
    )


def test_enums_are_case_sensitive(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="roaming.ocpi"):
        evse = EVSE.model_validate(_evse(status="available"))
    assert evse.status == "available"
    assert evse.status != Status.AVAILABLE
    assert caplog.records


def test_enum_field_still_refuses_non_strings() -> None:
    with pytest.raises(ValidationError) as excinfo:
        EVSE.model_validate(_evse(status=3))
    assert (
        describe_validation_error(excinfo.value) == "Invalid value for status: Input should be a string (Status value)"
    )


# --- Lengths and character sets ------------------------------------------------------------------------


def test_object_id_longer_than_36_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Location.model_validate(_location(id="x" * 37))
    assert describe_validation_error(excinfo.value) == "Too long: id (max 36 characters, got 37)"


def test_nested_length_error_names_the_path() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Location.model_validate(_location(evses=[_evse(uid="u" * 40)]))
    assert describe_validation_error(excinfo.value) == "Too long: evses.0.uid (max 36 characters, got 40)"


def test_cdr_id_allows_39() -> None:
    cdr = _cdr_body(id="C" * 39)
    assert CDR.model_validate(cdr).id == "C" * 39
    with pytest.raises(ValidationError) as excinfo:
        CDR.model_validate(_cdr_body(id="C" * 40))
    assert describe_validation_error(excinfo.value) == "Too long: id (max 39 characters, got 40)"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country_code", "NLD", "Too long: country_code (max 2 characters, got 3)"),
        ("party_id", "ABCD", "Too long: party_id (max 3 characters, got 4)"),
        ("party_id", "ÄB", "Invalid value for party_id: Must contain printable ASCII characters only"),
        ("uid", "abc\n", "Invalid value for uid: Must contain printable ASCII characters only"),
        ("issuer", "i" * 65, "Too long: issuer (max 64 characters, got 65)"),
        ("language", "eng", "Too long: language (max 2 characters, got 3)"),
    ],
)
def test_token_limits(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Token.model_validate(_token(**{field: value}))
    assert describe_validation_error(excinfo.value) == message


def test_string_fields_take_utf8() -> None:
    location = Location.model_validate(_location(address="Krautwigstraße 283A", city="Köln"))
    assert location.address == "Krautwigstraße 283A"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("has space", "Invalid value for token: Must contain printable non-whitespace ASCII characters only"),
        ("t" * 65, "Too long: token (max 64 characters, got 65)"),
    ],
)
def test_credentials_token_limits(token: str, message: str) -> None:
    body = {
        "token": token,
        "url": "https://example.com/ocpi/versions",
        "roles": [{"role": "CPO", "party_id": "EXA", "country_code": "NL", "business_details": {"name": "X"}}],
    }
    with pytest.raises(ValidationError) as excinfo:
        Credentials.model_validate(body)
    assert describe_validation_error(excinfo.value) == message


# --- describe_validation_error -----------------------------------------------------------------------------


def test_missing_fields_are_listed_in_one_line() -> None:
    body = _location(
        evses=[{"status": "AVAILABLE", "connectors": [_connector()], "last_updated": "2019-06-24T12:39:09Z"}]
    )
    del body["city"]
    with pytest.raises(ValidationError) as excinfo:
        Location.model_validate(body)
    assert describe_validation_error(excinfo.value) == (
        "Missing required field: city; Missing required field: evses.0.uid"
    )


def test_body_that_is_not_an_object() -> None:
    with pytest.raises(ValidationError) as excinfo:
        parse_json(Location, "[]")
    assert describe_validation_error(excinfo.value) == "Invalid body: expected a JSON object"


def test_empty_required_list() -> None:
    with pytest.raises(ValidationError) as excinfo:
        EVSE.model_validate(_evse(connectors=[]))
    assert describe_validation_error(excinfo.value) == "Empty list not allowed: connectors"


def test_many_errors_are_capped() -> None:
    with pytest.raises(ValidationError) as excinfo:
        CDR.model_validate({})  # 14 required fields
    message = describe_validation_error(excinfo.value)
    assert message.count("Missing required field") == 10
    assert message.endswith("; and 4 more")
    assert "\n" not in message


def test_wrong_type_message() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Token.model_validate(_token(valid="perhaps"))
    assert (
        describe_validation_error(excinfo.value)
        == "Invalid value for valid: Input should be a valid boolean, unable to interpret input"
    )


# --- Envelope ---------------------------------------------------------------------------------------------


def test_envelope_without_data_omits_it() -> None:
    envelope = Envelope(status_code=2001, status_message="Missing required field: type", timestamp=EXPECTED)
    assert dumps(envelope) == (
        '{"status_code":2001,"status_message":"Missing required field: type","timestamp":"2015-06-29T20:39:09Z"}'
    )


def test_envelope_with_models() -> None:
    envelope = Envelope(data=[Price(excl_vat=Decimal("2.50"))], status_code=1000, timestamp=EXPECTED)
    assert dumps(envelope) == '{"data":[{"excl_vat":2.50}],"status_code":1000,"timestamp":"2015-06-29T20:39:09Z"}'
    assert envelope.model_dump(mode="json", exclude_none=True)["data"] == [{"excl_vat": 2.5}]


def _cdr_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "12345",
        "start_date_time": "2015-06-29T21:39:09Z",
        "end_date_time": "2015-06-29T23:37:32Z",
        "cdr_token": {
            "country_code": "DE",
            "party_id": "TNM",
            "uid": "012345678",
            "type": "RFID",
            "contract_id": "DE8ACC12E46L89",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "country": "BEL",
            "coordinates": {"latitude": "51.047599", "longitude": "3.729944"},
            "evse_uid": "3256",
            "evse_id": "BE*BEC*E041503003",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_1_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {"start_date_time": "2015-06-29T21:39:09Z", "dimensions": [{"type": "TIME", "volume": 1.973}]}
        ],
        "total_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
        "total_energy": 15.342,
        "total_time": 1.973,
        "last_updated": "2015-06-29T22:01:13Z",
    }
    body.update(overrides)
    return body
