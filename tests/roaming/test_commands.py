"""Commands module, our Sender side: what we POST to a CPO, and the CommandResult coming back to the
command's own response_url."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client
from django.utils import timezone

from drivers.models import Driver, Token
from drivers.services import token_block, token_issue
from roaming.models import Authorization, Command, Partner
from roaming.ocpi.v2_2_1.commands import StartSession
from roaming.selectors import command_for_authorization_reference
from roaming.services.commands import (
    CommandRefused,
    command_cancel_reservation,
    command_reserve_now,
    command_retry,
    command_start_session,
    command_stop_session,
    command_unlock_connector,
    commands_time_out,
)
from roaming.tasks import commands_time_out_task
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, registered_partner, running_session
from tests.roaming.fakecpo import COMMANDS_URL, Call, FakeCpo, connect, install_fake_cpo, make_driver

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_cpo(monkeypatch: pytest.MonkeyPatch) -> FakeCpo:
    return install_fake_cpo(monkeypatch)


@pytest.fixture
def partner(cpo: tuple[Partner, str], ocpi: OcpiTestClient) -> Partner:
    """The example CPO, with its example location LOC1 (EVSEs 3256 and 3257) pushed to us."""
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", example("locations/location_example.json")).http_status == 201
    return connect(cpo[0])


@pytest.fixture
def driver() -> Driver:
    return make_driver()


@pytest.fixture
def card(driver: Driver) -> Token:
    return token_issue(driver=driver, uid="04A1B2C3")


def _path(command: Command) -> str:
    return urlparse(command.response_url).path


def _result(ocpi: OcpiTestClient, command: Command, result: str, **kwargs: Any) -> Any:
    return ocpi.post(_path(command), {"result": result, **kwargs})


def test_start_session_is_posted_with_its_own_response_url_and_a_preauthorization(
    partner: Partner, fake_cpo: FakeCpo, card: Token
) -> None:
    command = command_start_session(card, "LOC1", "3256", "1")

    (call,) = fake_cpo.calls
    assert (call.method, call.url) == ("POST", f"{COMMANDS_URL}/START_SESSION")
    body = StartSession.model_validate(call.body)
    assert str(body.response_url) == command.response_url
    assert command.response_url.endswith(f"/ocpi/2.2.1/commands/START_SESSION/{command.reference}")
    assert (body.location_id, body.evse_uid, body.connector_id) == ("LOC1", "3256", "1")
    assert (body.token.uid, body.token.country_code, body.token.party_id) == (card.uid, "NL", "EMS")
    assert body.authorization_reference == command.authorization_reference

    assert (command.state, command.response, command.response_timeout) == ("SENT", "ACCEPTED", 30)
    assert command.deadline is not None
    assert command.responded_at is not None
    assert timedelta(seconds=29) < command.deadline - command.responded_at <= timedelta(seconds=30)
    assert (command.partner, command.token, command.location_id) == (partner, card, "LOC1")
    authorization = Authorization.objects.get(reference=command.authorization_reference)
    assert (authorization.source, authorization.allowed, authorization.token) == ("command", "ALLOWED", card)
    assert command_for_authorization_reference(command.authorization_reference) == command
    assert command.request == call.body


def test_result_arrives_at_the_response_url_once(
    partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient
) -> None:
    command = command_start_session(card, "LOC1")
    reply = _result(ocpi, command, "ACCEPTED", message=[{"language": "en", "text": "Charging"}])
    assert (reply.http_status, reply.status_code) == (200, 1000)
    command.refresh_from_db()
    assert (command.state, command.result, command.result_message) == ("DONE", "ACCEPTED", "Charging")

    again = _result(ocpi, command, "FAILED")
    assert (again.http_status, again.status_code) == (200, 1000)
    assert "ignored" in again.body["status_message"]
    command.refresh_from_db()
    assert command.result == "ACCEPTED"


def test_a_result_wrapped_in_an_envelope_is_read_too(
    partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient
) -> None:
    command = command_start_session(card, "LOC1")
    reply = ocpi.post(_path(command), {"data": {"result": "EVSE_OCCUPIED"}, "status_code": 1000})
    assert reply.status_code == 1000
    command.refresh_from_db()
    assert command.result == "EVSE_OCCUPIED"


def test_results_from_another_partner_or_for_another_command_are_404(
    partner: Partner, fake_cpo: FakeCpo, card: Token, client: Client, ocpi: OcpiTestClient
) -> None:
    command = command_start_session(card, "LOC1")
    _, other_token = registered_partner("Other CPO", [("DE", "OTH")])
    other = OcpiTestClient(client, other_token)
    reply = _result(other, command, "ACCEPTED")
    assert (reply.http_status, reply.status_code) == (404, 2000)
    wrong_type = ocpi.post(_path(command).replace("START_SESSION", "STOP_SESSION"), {"result": "ACCEPTED"})
    assert wrong_type.http_status == 404
    unknown = ocpi.post(_path(command)[:-36] + "00000000-0000-4000-8000-000000000000", {"result": "ACCEPTED"})
    assert unknown.http_status == 404
    command.refresh_from_db()
    assert (command.state, command.result) == ("SENT", "")


def test_invalid_results_are_2001(partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient) -> None:
    command = command_start_session(card, "LOC1")
    assert ocpi.post(_path(command), {"message": []}).status_code == 2001
    assert ocpi.post(_path(command), {"result": "MAYBE"}).status_code == 2001
    assert ocpi.post(_path(command), [1]).status_code == 2001
    assert ocpi.get(_path(command)).http_status == 405


def test_two_start_sessions_in_flight_keep_their_results_apart(
    partner: Partner, fake_cpo: FakeCpo, driver: Driver, ocpi: OcpiTestClient
) -> None:
    first_card = token_issue(driver=driver, uid="CARD1")
    second_card = token_issue(driver=driver, uid="CARD2")
    first = command_start_session(first_card, "LOC1", "3256")
    second = command_start_session(second_card, "LOC1", "3257")
    assert first.reference != second.reference
    assert first.response_url != second.response_url
    assert first.authorization_reference != second.authorization_reference
    assert (first.state, second.state) == ("SENT", "SENT")

    # Results come back in the other order, with different outcomes.
    assert _result(ocpi, second, "EVSE_OCCUPIED").status_code == 1000
    first.refresh_from_db()
    assert (first.state, first.result) == ("SENT", "")
    assert _result(ocpi, first, "ACCEPTED").status_code == 1000
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.result, second.result) == ("ACCEPTED", "EVSE_OCCUPIED")
    assert command_for_authorization_reference(first.authorization_reference) == first
    assert command_for_authorization_reference(second.authorization_reference) == second
    assert command_for_authorization_reference(second.authorization_reference).token == second_card  # type: ignore[union-attr]


def test_a_result_that_overtakes_the_cpos_answer_is_kept(
    partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient
) -> None:
    def post_result_first(call: Call) -> None:
        assert _result_url(ocpi, call.body["response_url"], "ACCEPTED").status_code == 1000

    fake_cpo.on_command = post_result_first
    command = command_start_session(card, "LOC1")
    assert (command.state, command.response, command.result) == ("DONE", "ACCEPTED", "ACCEPTED")


def _result_url(ocpi: OcpiTestClient, url: str, result: str) -> Any:
    return ocpi.post(urlparse(url).path, {"result": result})


def test_a_token_that_may_not_charge_is_refused_here(partner: Partner, fake_cpo: FakeCpo, card: Token) -> None:
    token_block(token=card)
    with pytest.raises(CommandRefused) as refused:
        command_start_session(card, "LOC1")
    assert refused.value.allowed == "BLOCKED"
    with pytest.raises(CommandRefused):
        command_reserve_now(card, "LOC1", expiry_date=timezone.now() + timedelta(minutes=15))
    assert fake_cpo.calls == []
    assert not Command.objects.exists()
    assert not Authorization.objects.exists()


def test_unknown_location_or_no_commands_endpoint_is_refused_here(
    partner: Partner, fake_cpo: FakeCpo, card: Token
) -> None:
    with pytest.raises(CommandRefused, match="Unknown location"):
        command_start_session(card, "NOPE")
    with pytest.raises(CommandRefused, match="evse_uid"):
        command_start_session(card, "LOC1", connector_id="1")
    partner.endpoints.filter(module="commands").delete()
    with pytest.raises(CommandRefused, match="commands"):
        command_start_session(card, "LOC1")
    assert fake_cpo.calls == []


def test_a_refusal_by_the_cpo_ends_the_command(partner: Partner, fake_cpo: FakeCpo, card: Token) -> None:
    fake_cpo.command_response = "REJECTED"
    command = command_start_session(card, "LOC1")
    assert (command.state, command.response, command.result) == ("DONE", "REJECTED", "")
    assert commands_time_out(now=timezone.now() + timedelta(hours=1)) == 0


def test_a_cpo_that_is_down_gets_one_post_only(partner: Partner, fake_cpo: FakeCpo, card: Token) -> None:
    fake_cpo.down = True
    command = command_start_session(card, "LOC1")
    assert len(fake_cpo.calls) == 1  # not idempotent: never retried
    assert command.state == "FAILED"
    assert "500" in command.error
    assert command.deadline is None


def test_no_result_by_the_deadline_is_timeout_and_a_late_result_still_counts(
    partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient
) -> None:
    fake_cpo.command_timeout = 0  # "no idea": our default applies
    command = command_start_session(card, "LOC1")
    assert command.deadline is not None
    assert command.responded_at is not None
    assert command.deadline - command.responded_at == timedelta(seconds=60)
    assert commands_time_out(now=command.deadline - timedelta(seconds=1)) == 0
    assert commands_time_out(now=command.deadline) == 1
    command.refresh_from_db()
    assert (command.state, command.result, command.result_local) == ("DONE", "TIMEOUT", True)
    # The session may still start, and is still ours to link.
    assert command_for_authorization_reference(command.authorization_reference) == command

    assert _result(ocpi, command, "ACCEPTED").status_code == 1000
    command.refresh_from_db()
    assert (command.result, command.result_local) == ("ACCEPTED", False)
    assert commands_time_out_task.apply().get() == 0


def test_stop_session(partner: Partner, fake_cpo: FakeCpo, ocpi: OcpiTestClient) -> None:
    command = command_stop_session("SESSION-1", partner)
    (call,) = fake_cpo.calls
    assert call.url == f"{COMMANDS_URL}/STOP_SESSION"
    assert call.body == {"response_url": command.response_url, "session_id": "SESSION-1"}
    assert (command.type, command.state, command.token) == ("STOP_SESSION", "SENT", None)
    assert _result(ocpi, command, "ACCEPTED").status_code == 1000

    fake_cpo.command_response = "UNKNOWN_SESSION"
    unknown = command_stop_session("SESSION-2", partner)
    assert (unknown.state, unknown.response) == ("DONE", "UNKNOWN_SESSION")


def test_reservation_and_its_cancellation_by_the_cpo(
    partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient
) -> None:
    expiry = timezone.now() + timedelta(minutes=15)
    reserve = command_reserve_now(card, "LOC1", expiry_date=expiry, evse_uid="3256", reservation_id="R1")
    assert fake_cpo.calls[-1].body["reservation_id"] == "R1"
    assert fake_cpo.calls[-1].body["expiry_date"].endswith("Z")
    assert fake_cpo.calls[-1].body["authorization_reference"] == reserve.authorization_reference
    assert _result(ocpi, reserve, "ACCEPTED").status_code == 1000
    # The CPO cancels the reservation later, on the same response_url.
    assert _result(ocpi, reserve, "CANCELED_RESERVATION").status_code == 1000
    reserve.refresh_from_db()
    assert reserve.result == "CANCELED_RESERVATION"

    cancel = command_cancel_reservation("R1", partner)
    assert fake_cpo.calls[-1].body == {"response_url": cancel.response_url, "reservation_id": "R1"}


def test_unlock_connector(partner: Partner, fake_cpo: FakeCpo) -> None:
    command = command_unlock_connector("LOC1", "3256", "1")
    assert fake_cpo.calls[-1].url == f"{COMMANDS_URL}/UNLOCK_CONNECTOR"
    assert fake_cpo.calls[-1].body == {
        "response_url": command.response_url,
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
    }


def test_admin_lists_commands(partner: Partner, fake_cpo: FakeCpo, card: Token, admin_client: Client) -> None:
    command = command_start_session(card, "LOC1")
    page = admin_client.get("/admin/roaming/command/?state__exact=SENT")
    assert page.status_code == 200
    assert "START_SESSION" in page.content.decode()
    assert admin_client.get(f"/admin/roaming/command/{command.pk}/change/").status_code == 200
    authorizations = admin_client.get("/admin/roaming/authorization/?source__exact=command")
    assert command.authorization_reference in authorizations.content.decode()


def test_commands_are_addressed_to_the_party_that_owns_the_location_or_session(
    cpo: tuple[Partner, str], fake_cpo: FakeCpo, card: Token
) -> None:
    """The CPO platform hosts BE/BEC and DE/ALL: a command about a DE/ALL location goes to DE/ALL."""
    partner = connect(cpo[0])
    running_session(partner, ("DE", "ALL"), session_id="S-DE", location_id="LOC-DE")

    command_start_session(card, "LOC-DE", "E1")
    command_unlock_connector("LOC-DE", "E1", "1")
    command_stop_session("S-DE", partner)
    command_cancel_reservation("R1", partner)  # nothing tells the party: the connection's first

    to = [(c.headers["OCPI-to-country-code"], c.headers["OCPI-to-party-id"]) for c in fake_cpo.calls]
    assert to == [("DE", "ALL"), ("DE", "ALL"), ("DE", "ALL"), ("BE", "BEC")]


# --- sending a timed-out or failed command again (the back office's Retry) -------------------------------------


def test_a_failed_start_is_sent_again_once_with_the_same_parameters_and_a_new_authorization(
    partner: Partner, fake_cpo: FakeCpo, card: Token
) -> None:
    fake_cpo.down = True
    first = command_start_session(card, "LOC1", "3256", "1")
    assert first.state == "FAILED"
    fake_cpo.down = False

    retry = command_retry(command=first)
    assert retry.retry_of == first
    assert (retry.state, retry.response, retry.token) == ("SENT", "ACCEPTED", card)
    sent_first, sent_retry = (StartSession.model_validate(call.body) for call in fake_cpo.calls)
    assert (sent_retry.location_id, sent_retry.evse_uid, sent_retry.connector_id, sent_retry.token.uid) == (
        sent_first.location_id,
        sent_first.evse_uid,
        sent_first.connector_id,
        sent_first.token.uid,
    )
    assert sent_retry.authorization_reference == retry.authorization_reference != first.authorization_reference
    assert str(sent_retry.response_url) == retry.response_url != first.response_url

    with pytest.raises(CommandRefused, match="retried already"):
        command_retry(command=first)  # a second click
    assert len(fake_cpo.calls) == 2
    assert Authorization.objects.count() == 2


def test_only_a_timed_out_or_failed_command_is_sent_again(
    partner: Partner, fake_cpo: FakeCpo, card: Token, ocpi: OcpiTestClient
) -> None:
    accepted = command_start_session(card, "LOC1")
    assert _result(ocpi, accepted, "ACCEPTED").status_code == 1000
    occupied = command_start_session(card, "LOC1")
    assert _result(ocpi, occupied, "EVSE_OCCUPIED").status_code == 1000
    fake_cpo.command_response = "REJECTED"
    rejected = command_start_session(card, "LOC1")
    fake_cpo.command_response = "ACCEPTED"
    pending = command_unlock_connector("LOC1", "3256", "1")
    for command in (accepted, occupied, rejected):
        command.refresh_from_db()
        with pytest.raises(CommandRefused, match="Only a timed-out or failed command"):
            command_retry(command=command)
    with pytest.raises(CommandRefused, match="pending"):
        command_retry(command=pending)
    assert len(fake_cpo.calls) == 4


def test_a_start_whose_session_started_after_all_is_not_sent_again(
    partner: Partner, fake_cpo: FakeCpo, card: Token
) -> None:
    command = command_start_session(card, "LOC1", "3256")
    assert command.deadline is not None
    commands_time_out(now=command.deadline)
    session = running_session(partner, ("BE", "BEC"))
    session.authorization_reference = command.authorization_reference
    session.save()
    command.refresh_from_db()
    with pytest.raises(CommandRefused, match="started session S-42 after all"):
        command_retry(command=command)
    assert len(fake_cpo.calls) == 1


def test_a_timed_out_stop_is_sent_again_while_the_session_runs(partner: Partner, fake_cpo: FakeCpo) -> None:
    session = running_session(partner, ("BE", "BEC"))
    stop = command_stop_session(session.ocpi_id, partner)
    assert stop.deadline is not None
    commands_time_out(now=stop.deadline)
    stop.refresh_from_db()
    again = command_retry(command=stop)
    assert (again.type, again.session_id, again.retry_of) == ("STOP_SESSION", "S-42", stop)
    assert fake_cpo.calls[-1].body == {"response_url": again.response_url, "session_id": "S-42"}

    assert again.deadline is not None
    commands_time_out(now=again.deadline)
    again.refresh_from_db()
    session.status = "COMPLETED"
    session.save()
    with pytest.raises(CommandRefused, match="has ended"):
        command_retry(command=again)


def test_a_reservation_is_sent_again_under_its_id_until_it_would_have_expired(
    partner: Partner, fake_cpo: FakeCpo, card: Token
) -> None:
    expiry = timezone.now() + timedelta(minutes=15)
    fake_cpo.down = True
    first = command_reserve_now(card, "LOC1", expiry_date=expiry, evse_uid="3256", reservation_id="R7")
    fake_cpo.down = False
    retry = command_retry(command=first)
    body = fake_cpo.calls[-1].body
    assert (body["reservation_id"], body["evse_uid"], body["location_id"]) == ("R7", "3256", "LOC1")
    assert body["expiry_date"] == fake_cpo.calls[0].body["expiry_date"]
    assert body["authorization_reference"] == retry.authorization_reference != first.authorization_reference

    fake_cpo.down = True
    late = command_reserve_now(card, "LOC1", expiry_date=timezone.now() + timedelta(seconds=1), reservation_id="R8")
    late.request["expiry_date"] = (timezone.now() - timedelta(minutes=1)).isoformat()
    with pytest.raises(CommandRefused, match="expiry has passed"):
        command_retry(command=late)
