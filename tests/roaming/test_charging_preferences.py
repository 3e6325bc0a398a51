"""Charging preferences, our side: what we PUT to the CPO's sessions Sender, what we refuse to send, and how
each answer is kept (the simulator's side is in tests/integration/test_charging_preferences.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from drivers.models import Token
from drivers.services import token_issue
from roaming.models import ChargingPreferencesRequest, ChargingSession, Partner, PartnerEndpoint
from roaming.selectors import preferences_in_force
from roaming.services.charging_preferences import (
    PreferencesRefused,
    preferences_send_stale,
    session_preferences_send,
)
from tests.roaming.conftest import registered_partner, running_session
from tests.roaming.fakecpo import SESSIONS_URL, FakeCpo, connect, install_fake_cpo, make_driver

pytestmark = pytest.mark.django_db

CAPABLE = "CHARGING_PREFERENCES_CAPABLE"


@pytest.fixture
def fake_cpo(monkeypatch: pytest.MonkeyPatch) -> FakeCpo:
    return install_fake_cpo(monkeypatch)


@pytest.fixture
def partner(db: None) -> Partner:
    """A CPO with two parties, a sessions Sender endpoint, and our token for it."""
    partner = connect(registered_partner("Smart CPO", [("NL", "SMA"), ("BE", "SMB")])[0])
    PartnerEndpoint.objects.create(partner=partner, module="sessions", role="SENDER", url=SESSIONS_URL + "/")
    return partner


def _session(
    partner: Partner, *, capabilities: list[str], status: str = "ACTIVE", evse_uid: str = "E1"
) -> ChargingSession:
    """A session of the CPO's second party (BE/SMB) at an EVSE with `capabilities`."""
    return running_session(partner, ("BE", "SMB"), capabilities=capabilities, status=status, evse_uid=evse_uid)


def test_preferences_are_put_to_the_sessions_sender_and_the_answer_is_kept(partner: Partner, fake_cpo: FakeCpo) -> None:
    session = _session(partner, capabilities=["RFID_READER", CAPABLE])
    departure = datetime(2026, 11, 25, 18, 30, tzinfo=UTC)

    sent = session_preferences_send(
        session, profile_type="CHEAP", departure_time=departure, energy_need=Decimal("20.5")
    )

    (call,) = fake_cpo.calls
    assert (call.method, call.url) == ("PUT", f"{SESSIONS_URL}/S-42/charging_preferences")
    # discharge_allowed is left out: absent means false.
    assert call.body == {"profile_type": "CHEAP", "departure_time": "2026-11-25T18:30:00Z", "energy_need": 20.5}
    # Addressed to the session's own party, not the partner's first one.
    assert (call.headers["OCPI-to-country-code"], call.headers["OCPI-to-party-id"]) == ("BE", "SMB")
    stored = ChargingPreferencesRequest.objects.get()
    assert stored == sent
    assert (stored.state, stored.response, stored.error) == ("ANSWERED", "ACCEPTED", "")
    assert (stored.departure_time, stored.energy_need) == (departure, Decimal("20.5"))
    assert stored.answered_at is not None
    assert preferences_in_force(session) == stored


def test_a_refused_change_leaves_the_accepted_preferences_in_force(partner: Partner, fake_cpo: FakeCpo) -> None:
    session = _session(partner, capabilities=[CAPABLE])
    accepted = session_preferences_send(session, profile_type="FAST")
    fake_cpo.preferences_response = "DEPARTURE_REQUIRED"

    refused = session_preferences_send(session, profile_type="CHEAP", discharge_allowed=True)

    assert fake_cpo.calls[-1].body == {"profile_type": "CHEAP", "discharge_allowed": True}
    assert (refused.state, refused.response) == ("ANSWERED", "DEPARTURE_REQUIRED")
    assert preferences_in_force(session) == accepted
    assert session.preference_requests.count() == 2


def test_a_cpo_that_takes_none_for_the_evse_after_all_is_recorded_as_not_supported(
    partner: Partner, fake_cpo: FakeCpo
) -> None:
    fake_cpo.preferences_response = ""  # HTTP 404 + OCPI 2001, the spec's answer
    session = _session(partner, capabilities=[], evse_uid="E-UNKNOWN-TO-US")  # we don't hold this EVSE

    sent = session_preferences_send(session, profile_type="REGULAR")

    assert len(fake_cpo.calls) == 1  # not retried: a 404 is permanent
    assert sent.state == "NOT_SUPPORTED"
    assert sent.response == ""
    assert "2001" in sent.error
    assert preferences_in_force(session) is None


def test_a_cpo_that_is_down_gives_a_failed_request_with_the_reason(partner: Partner, fake_cpo: FakeCpo) -> None:
    fake_cpo.down = True
    session = _session(partner, capabilities=[CAPABLE])

    sent = session_preferences_send(session, profile_type="FAST")

    assert len(fake_cpo.calls) > 1  # a PUT is idempotent: retried
    assert (sent.state, sent.response) == ("FAILED", "")
    assert "3000" in sent.error or "500" in sent.error


@pytest.mark.parametrize(
    ("setup", "kwargs", "reason"),
    [
        ("not capable", {"profile_type": "FAST"}, "does not take charging preferences"),
        ("completed", {"profile_type": "FAST"}, "is COMPLETED"),
        ("2.1.1", {"profile_type": "FAST"}, "OCPI 2.1.1 has no charging preferences"),
        ("no endpoint", {"profile_type": "FAST"}, "no sessions Sender endpoint"),
        ("suspended", {"profile_type": "FAST"}, "not a registered partner"),
        ("capable", {"profile_type": "SLOW"}, "Unknown profile type 'SLOW'"),
        ("capable", {"profile_type": "FAST", "energy_need": Decimal("-1")}, "energy_need"),
    ],
)
def test_what_cannot_be_sent_is_refused_before_anything_is_stored_or_sent(
    partner: Partner, fake_cpo: FakeCpo, setup: str, kwargs: dict[str, object], reason: str
) -> None:
    session = _session(
        partner,
        capabilities=[] if setup == "not capable" else [CAPABLE],
        status="COMPLETED" if setup == "completed" else "ACTIVE",
    )
    if setup == "2.1.1":
        Partner.objects.filter(pk=partner.pk).update(version="2.1.1")
    if setup == "no endpoint":
        partner.endpoints.filter(module="sessions").delete()
    if setup == "suspended":
        Partner.objects.filter(pk=partner.pk).update(status=Partner.Status.SUSPENDED)
    session = ChargingSession.objects.select_related("partner").get(pk=session.pk)

    with pytest.raises(PreferencesRefused, match=reason):
        session_preferences_send(session, **kwargs)  # type: ignore[arg-type]

    assert fake_cpo.calls == []
    assert not ChargingPreferencesRequest.objects.exists()


def test_staff_send_preferences_from_the_session_page(
    partner: Partner, fake_cpo: FakeCpo, admin_client: Client
) -> None:
    session = _session(partner, capabilities=[CAPABLE])
    page = f"/admin/roaming/chargingsession/{session.pk}/change/"
    form_url = f"/admin/roaming/chargingsession/{session.pk}/charging-preferences/"
    assert form_url in admin_client.get(page).content.decode()
    # The form starts from the profile the driver's card names as its default.
    driver = make_driver()
    session.token = token_issue(driver=driver, uid="04A1B2C3")
    Token.objects.filter(pk=session.token.pk).update(default_profile_type="FAST")
    session.save()
    form = admin_client.get(form_url)
    assert form.status_code == 200
    assert '<option value="FAST" selected>' in form.content.decode()

    answer = admin_client.post(
        form_url, {"profile_type": "CHEAP", "departure_time": "2026-11-25 18:30", "energy_need": "12"}, follow=True
    )

    assert answer.redirect_chain == [(page, 302)]
    text = answer.content.decode()
    assert "the CPO answered ACCEPTED" in text
    assert "CHEAP (accepted" in text  # in force, and listed with the session
    assert fake_cpo.calls[0].body == {
        "profile_type": "CHEAP",
        "departure_time": "2026-11-25T18:30:00Z",
        "energy_need": 12,
    }


def test_the_form_shows_why_nothing_was_sent_and_staff_without_permission_cannot_send(
    partner: Partner, fake_cpo: FakeCpo, admin_client: Client, client: Client
) -> None:
    session = _session(partner, capabilities=[])
    form_url = f"/admin/roaming/chargingsession/{session.pk}/charging-preferences/"

    answer = admin_client.post(form_url, {"profile_type": "FAST"})

    assert answer.status_code == 200
    assert "does not take charging preferences" in answer.content.decode()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(viewer)
    assert client.post(form_url, {"profile_type": "FAST"}).status_code == 403
    assert fake_cpo.calls == []


# --- requests whose sender died before the PUT (issue 19, item 1: every push survives a crash) ----------------


def _stored_unsent(
    session: ChargingSession, profile_type: str = "FAST", minutes_ago: int = 3
) -> ChargingPreferencesRequest:
    """A request as a sender leaves it when its process dies between storing it and the PUT."""
    request = ChargingPreferencesRequest.objects.create(session=session, profile_type=profile_type)
    ChargingPreferencesRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    return request


def _other_session(partner: Partner, status: str = "ACTIVE") -> ChargingSession:
    return running_session(partner, ("BE", "SMB"), session_id="S-43", location_id="LOC8", status=status)


def test_a_request_never_sent_is_sent_by_the_sweep(partner: Partner, fake_cpo: FakeCpo) -> None:
    session = _session(partner, capabilities=[CAPABLE])
    lost = _stored_unsent(session, "GREEN")
    _stored_unsent(_other_session(partner), minutes_ago=1)  # may still be sending

    assert preferences_send_stale() == 1

    (call,) = fake_cpo.calls
    assert (call.method, call.url, call.body) == (
        "PUT",
        f"{SESSIONS_URL}/S-42/charging_preferences",
        {"profile_type": "GREEN"},
    )
    lost.refresh_from_db()
    assert (lost.state, lost.response) == ("ANSWERED", "ACCEPTED")
    assert preferences_send_stale() == 0  # settled once


def test_a_stale_request_overtaken_or_after_the_session_is_not_sent(partner: Partner, fake_cpo: FakeCpo) -> None:
    session = _session(partner, capabilities=[CAPABLE])
    overtaken = _stored_unsent(session, "GREEN", minutes_ago=5)
    session_preferences_send(session, profile_type="CHEAP")  # the driver changed their mind since
    ended = _stored_unsent(_other_session(partner, status="COMPLETED"))

    assert preferences_send_stale() == 2

    assert [call.body for call in fake_cpo.calls] == [{"profile_type": "CHEAP"}]  # only the driver's own send
    overtaken.refresh_from_db()
    ended.refresh_from_db()
    assert (overtaken.state, overtaken.error) == (
        "FAILED",
        "Not delivered, and overtaken by a newer request for the session.",
    )
    assert (ended.state, ended.error) == ("FAILED", "Not delivered before the session ended (COMPLETED).")
