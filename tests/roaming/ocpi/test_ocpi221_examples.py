"""Every official OCPI 2.2.1 example parses with the right model and survives a JSON round trip.

The examples are not vendored into this repository (they belong to the ocpi/ocpi project); they are
read from OCPI_EXAMPLES_DIR (see tests/examples.py), by default `../shared/ocpi/examples/2.2.1`. Without it
these tests skip.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from roaming.ocpi.v2_2_1 import (
    CDR,
    EVSE,
    ClientInfo,
    ConnectorPatch,
    Credentials,
    DisplayText,
    EnergyMix,
    Envelope,
    EVSEPatch,
    Hours,
    Location,
    LocationPatch,
    Session,
    SessionPatch,
    Status,
    Tariff,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
    describe_validation_error,
    dumps,
    loads,
    parse_data,
    parse_json,
)
from tests.examples import EXAMPLES_DIR

EXAMPLES = EXAMPLES_DIR

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"OCPI examples not found at {EXAMPLES}")

# File (relative to EXAMPLES) -> the type its content is. Files that are fragments wrapped in an object
# by the spec ({"energy_mix": ...}, {"opening_times": ...}) are listed with the key to unwrap.
PLAIN: dict[str, Any] = {
    "cdrs/cdr_example.json": CDR,
    "credentials/credentials_example.json": Credentials,
    "credentials/credentials_example2.json": Credentials,
    "credentials/credentials_example3.json": Credentials,
    "credentials/credentials_example4.json": Credentials,
    "locations/location_example.json": Location,
    "locations/location_example_parking_garage_opening_hours.json": Location,
    "locations/location_example_uc2_destination_charger.json": Location,
    "locations/location_example_uc3_destination_charger_not_published.json": Location,
    "locations/location_example_uc4_limited_visibility.json": Location,
    "locations/location_example_uc5_home_charge_point.json": Location,
    "locations/location_hours_247_open_exception_closing.json": Hours,
    "locations/location_hours_opening_hours_with_exceptional_closing.json": Hours,
    "locations/location_hours_opening_hours_with_exceptional_opening.json": Hours,
    "sessions/session_example_1_simple_start.json": Session,
    "sessions/session_example_2_short_finished.json": Session,
    "sessions/session_patch_example_charging_period.json": SessionPatch,
    "sessions/session_patch_example_total_cost.json": SessionPatch,
    "tariffs/tariff_10_025kwh_parking_start.json": Tariff,
    "tariffs/tariff_11_not_possible_alt_text.json": Tariff,
    "tariffs/tariff_12_025kwh_min_price.json": Tariff,
    "tariffs/tariff_13_simple_3hour_5parking.json": Tariff,
    "tariffs/tariff_14_step_size.json": Tariff,
    "tariffs/tariff_15_reservation_5_euro_per_hour.json": Tariff,
    "tariffs/tariff_16_reservation_2_euro_fee_5_euro_per_hour.json": Tariff,
    "tariffs/tariff_17_reservation_with_expire_fee.json": Tariff,
    "tariffs/tariff_18_reservation_with_expire_time.json": Tariff,
    "tariffs/tariff_1_simple_2hour.json": Tariff,
    "tariffs/tariff_2_alt_text.json": Tariff,
    "tariffs/tariff_3_alt_url.json": Tariff,
    "tariffs/tariff_4_complex.json": Tariff,
    "tariffs/tariff_5_free_of_charge.json": Tariff,
    "tariffs/tariff_6_025kwh_start_max_price.json": Tariff,
    "tariffs/tariff_8_simple_025kwh.json": Tariff,
    "tariffs/tariff_9_025kwh_start.json": Tariff,
    "tariffs/tariffrestriction_example_max_duration.json": Tariff,
    "tariffs/tariffrestriction_example_max_power.json": Tariff,
    "tokens/token_example_1_app_user.json": Token,
    "tokens/token_example_2_full_rfid.json": Token,
    "tokens/token_patch_example.json": TokenPatch,
    "tokens/token_put_example.json": Token,
    "types/type_displaytext_example.json": DisplayText,
    "versions/version_details_example.json": VersionDetails,
    "versions/version_details_example2.json": VersionDetails,
    "versions/versions_info_example.json": list[Version],
    # PATCH bodies, each for the object its URL in the spec points at.
    "locations/location_patch_example_location.json": LocationPatch,  # .../locations/NL/TNM/1012
    "locations/location_patch_example_remove_evse.json": EVSEPatch,  # .../1012/3256
    "locations/location_patch_example_status.json": EVSEPatch,  # .../1012/3255
    "locations/location_patch_example_tariff.json": ConnectorPatch,  # .../1012/3255/2
}

WRAPPED: dict[str, tuple[str, type[BaseModel]]] = {
    "locations/location_energymix_example_complete.json": ("energy_mix", EnergyMix),
    "locations/location_energymix_example_energy_provider.json": ("energy_mix", EnergyMix),
    "locations/location_energymix_example_simple.json": ("energy_mix", EnergyMix),
    "locations/location_regularhours_example.json": ("opening_times", Hours),
}

# Full response envelopes: file -> the type of `data` (None: an error envelope without data).
ENVELOPES: dict[str, Any] = {
    "transport_and_format/inline_error_response_no_data.json": None,
    "transport_and_format/transport_and_format_get_token_example.json": Token,
    "transport_and_format/transport_and_format_get_token_list_example.json": list[Token],
    "transport_and_format/transport_and_format_version_details_example.json": VersionDetails,
    "transport_and_format/transport_and_format_version_info_example.json": list[Version],
}

# Examples that are wrong as published (spec-facts §7); each has its own test below.
SPECIAL = {
    "locations/location_put_example_add_evse.json",
    "tariffs/tariff_put_example.json",
    "hubclientinfo/inline_clientinfo_put_AS_PUBLISHED.txt",
}


def _read(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def test_every_example_file_is_covered() -> None:
    on_disk = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*") if p.is_file()}
    covered = set(PLAIN) | set(WRAPPED) | set(ENVELOPES) | SPECIAL
    assert on_disk == covered


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_example_parses_and_round_trips(name: str) -> None:
    tp = PLAIN[name]
    parsed = parse_json(tp, _read(name))

    text = dumps(parsed)
    again = parse_json(tp, text)
    assert again == parsed
    # Nothing the partner sent is lost: every key of the example is in our output (the reverse need not
    # hold, empty lists are written out).
    _assert_keys_kept(json.loads(_read(name)), json.loads(text))


@pytest.mark.parametrize("name", sorted(WRAPPED))
def test_wrapped_fragment_parses_and_round_trips(name: str) -> None:
    key, model = WRAPPED[name]
    parsed = model.model_validate(loads(_read(name))[key])
    assert model.model_validate(loads(dumps(parsed))) == parsed


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_envelope_example(name: str) -> None:
    envelope = parse_json(Envelope, _read(name))
    assert envelope.timestamp.tzinfo is not None
    data_type = ENVELOPES[name]
    if data_type is None:
        assert envelope.data is None
        assert envelope.status_code == 2001
        assert "data" not in json.loads(dumps(envelope))
    else:
        assert envelope.status_code == 1000
        typed = parse_data(data_type, envelope.data)
        # Our typed answer, written out, is exactly the spec's example.
        rebuilt = envelope.model_copy(update={"data": typed})
        assert loads(dumps(rebuilt)) == loads(_read(name))
    assert parse_json(Envelope, dumps(envelope)) == envelope


def _assert_keys_kept(original: Any, written: Any, path: str = "") -> None:
    if isinstance(original, dict):
        assert isinstance(written, dict), path
        for key, value in original.items():
            assert key in written, f"{path}.{key} lost"
            _assert_keys_kept(value, written[key], f"{path}.{key}")
    elif isinstance(original, list):
        assert isinstance(written, list), path
        assert len(original) == len(written), path
        for index, (a, b) in enumerate(zip(original, written, strict=True)):
            _assert_keys_kept(a, b, f"{path}.{index}")


# --- spot checks on the values -------------------------------------------------------------------------


def test_cdr_example_values() -> None:
    cdr = parse_json(CDR, _read("cdrs/cdr_example.json"))
    assert cdr.total_cost.excl_vat == Decimal("4.00")
    assert cdr.total_cost.incl_vat == Decimal("4.40")
    assert cdr.tariffs[0].elements[0].price_components[0].step_size == 300
    assert cdr.charging_periods[0].dimensions[0].volume == Decimal("1.973")
    assert cdr.end_date_time.isoformat() == "2015-06-29T23:37:32+00:00"
    # Decimals are written from their own digits, scale included.
    assert '"total_energy":15.342' in dumps(cdr)
    assert '"excl_vat":4.00' in dumps(cdr)


def test_session_example_keeps_wh_volumes_as_sent() -> None:
    # spec-facts §7: the example's ENERGY volumes are in Wh; we do not second-guess them here.
    session = parse_json(Session, _read("sessions/session_example_2_short_finished.json"))
    assert session.charging_periods[1].dimensions[0].volume == Decimal("41000")
    assert session.kwh == Decimal("41.12")


def test_location_example_statuses() -> None:
    location = parse_json(Location, _read("locations/location_example.json"))
    assert [evse.status for evse in location.evses] == [Status.AVAILABLE, Status.RESERVED]
    assert location.coordinates.latitude == "51.047599"


def test_version_details_example_says_2_2() -> None:
    # spec-facts §7: the 2.2.1 examples still say "2.2"; that is a known VersionNumber.
    details = parse_json(VersionDetails, _read("versions/version_details_example.json"))
    assert details.version == "2.2"


def test_patch_examples_carry_only_what_changed() -> None:
    patch = parse_json(ConnectorPatch, _read("locations/location_patch_example_tariff.json"))
    assert patch.changes() == {"tariff_ids": ["15"], "last_updated": patch.last_updated}
    session_patch = parse_json(SessionPatch, _read("sessions/session_patch_example_charging_period.json"))
    assert set(session_patch.changes()) == {"kwh", "charging_periods", "total_cost", "last_updated"}


# --- examples that are wrong as published ----------------------------------------------------------------


def test_add_evse_example_is_incomplete_as_published() -> None:
    """The PUT example omits required connector fields, sends `physical_reference` as a number and uses
    `floor` (not a field; `floor_level` is). We refuse it with a message naming what is missing."""
    with pytest.raises(ValidationError) as excinfo:
        parse_json(EVSE, _read("locations/location_put_example_add_evse.json"))
    message = describe_validation_error(excinfo.value)
    assert message == (
        "Missing required field: connectors.0.power_type; "
        "Missing required field: connectors.0.max_voltage; "
        "Missing required field: connectors.0.max_amperage; "
        "Missing required field: connectors.0.last_updated"
    )


def test_add_evse_example_with_connector_completed() -> None:
    body = loads(_read("locations/location_put_example_add_evse.json"))
    body["connectors"][0].update(
        power_type="AC_3_PHASE", max_voltage=220, max_amperage=16, last_updated="2019-06-24T12:39:09Z"
    )
    evse = EVSE.model_validate(body)
    assert evse.physical_reference == "3"  # number coerced to the string the spec asks for
    assert evse.floor_level is None
    assert evse.model_extra == {"floor": -1}  # unknown field kept as sent
    assert '"floor":-1' in dumps(evse)


def test_hubclientinfo_example_is_invalid_as_published() -> None:
    text = _read("hubclientinfo/inline_clientinfo_put_AS_PUBLISHED.txt").decode()
    body = text[text.index("{") :]
    with pytest.raises(ValueError, match="double quotes"):
        loads(body)  # trailing comma

    fixed = body.replace('"PLANNED",', '"PLANNED"')
    with pytest.raises(ValidationError) as excinfo:
        parse_json(ClientInfo, fixed)
    assert describe_validation_error(excinfo.value) == "Missing required field: last_updated"

    data = {**loads(fixed), "last_updated": "2019-06-24T12:39:09Z"}
    info = ClientInfo.model_validate(data)
    assert info.status == "PLANNED"


def test_tariff_put_example_lacks_last_updated() -> None:
    """Not in spec-facts §7: the Tariff PUT example has no `last_updated`, which the Tariff requires."""
    with pytest.raises(ValidationError) as excinfo:
        parse_json(Tariff, _read("tariffs/tariff_put_example.json"))
    assert describe_validation_error(excinfo.value) == "Missing required field: last_updated"

    tariff = Tariff.model_validate(
        {**loads(_read("tariffs/tariff_put_example.json")), "last_updated": "2019-06-24T12:39:09Z"}
    )
    assert tariff.elements[0].price_components[0].price == Decimal("2.00")
    assert parse_json(Tariff, dumps(tariff)) == tariff
