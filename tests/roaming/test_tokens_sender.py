"""Tokens module, our Sender interface (token list, real-time authorization) and the push of token changes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as DjangoSettings

from drivers.models import Driver, Token
from drivers.services import token_block, token_issue, token_report_lost, token_unblock
from roaming.models import Authorization, Partner, TokenPushCursor
from roaming.ocpi.v2_2_1 import AuthorizationInfo
from roaming.ocpi.v2_2_1 import Token as OcpiToken
from roaming.selectors import authorization_for_reference, token_changes_pending
from roaming.services.tokens import push_token_changes, token_changes_enqueue, token_push_partners
from roaming.tasks import push_tokens_task
from tests.roaming.conftest import OcpiTestClient, registered_partner
from tests.roaming.fakecpo import TOKENS_URL, FakeCpo, connect, install_fake_cpo, make_driver

pytestmark = pytest.mark.django_db

LIST = "/ocpi/2.2.1/tokens"


def _authorize(uid: str) -> str:
    return f"/ocpi/2.2.1/tokens/{uid}/authorize"


@pytest.fixture
def driver() -> Driver:
    return make_driver()


@pytest.fixture
def card(driver: Driver) -> Token:
    return token_issue(driver=driver, uid="04A1B2C3", visual_number="NL-EMS-000001")


@pytest.fixture
def fake_cpo(monkeypatch: pytest.MonkeyPatch) -> FakeCpo:
    return install_fake_cpo(monkeypatch)


# --- GET list ------------------------------------------------------------------------------------------


def test_token_list_is_paginated_and_in_ocpi_shape(ocpi: OcpiTestClient, driver: Driver) -> None:
    tokens = [token_issue(driver=driver, uid=f"CARD{i}") for i in range(5)]
    token_block(token=tokens[1])

    first = ocpi.get(f"{LIST}?limit=2")
    assert first.http_status == 200
    assert first.headers["X-Total-Count"] == "5"
    assert first.headers["X-Limit"] == "2"
    assert [t["uid"] for t in first.data] == ["CARD0", "CARD1"]
    assert 'rel="next"' in first.headers["Link"]
    crawled = list(first.data)
    link = first.headers["Link"]
    while link:
        url = link[link.index("<") + 1 : link.index(">")]
        page = ocpi.get(url.removeprefix("http://127.0.0.1:8000"))
        crawled += page.data
        link = page.headers.get("Link", "")
    assert [t["uid"] for t in crawled] == [f"CARD{i}" for i in range(5)]

    for doc in crawled:
        parsed = OcpiToken.model_validate(doc)
        assert (parsed.country_code, parsed.party_id) == ("NL", "EMS")
        assert parsed.issuer == "Example EMSP"
        assert doc["whitelist"] == "ALLOWED"
        assert doc["last_updated"].endswith("Z")
    assert [t["valid"] for t in crawled] == [True, False, True, True, True]


def test_token_list_filters_on_last_updated(ocpi: OcpiTestClient, driver: Driver) -> None:
    old = token_issue(driver=driver, uid="OLD")
    Token.objects.filter(pk=old.pk).update(last_updated=timezone.now() - timedelta(days=2))
    token_issue(driver=driver, uid="NEW")
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [t["uid"] for t in ocpi.get(f"{LIST}?date_from={since}").data] == ["NEW"]
    assert [t["uid"] for t in ocpi.get(f"{LIST}?date_to={since}").data] == ["OLD"]
    assert ocpi.get(f"{LIST}?date_from=yesterday").status_code == 2001


def test_token_list_needs_a_connection_token(client: Client) -> None:
    assert client.get(LIST).status_code == 401


def test_energy_contract_and_optional_fields(ocpi: OcpiTestClient, card: Token) -> None:
    Token.objects.filter(pk=card.pk).update(
        energy_contract_supplier="Greenpower", energy_contract_id="GP-1", default_profile_type="GREEN"
    )
    (doc,) = ocpi.get(LIST).data
    assert doc["energy_contract"] == {"supplier_name": "Greenpower", "contract_id": "GP-1"}
    assert doc["default_profile_type"] == "GREEN"
    assert doc["visual_number"] == "NL-EMS-000001"
    assert "group_id" not in doc


# --- real-time authorization ---------------------------------------------------------------------------


def test_allowed_token_gets_a_stored_reference_and_its_location_back(
    ocpi: OcpiTestClient, card: Token, cpo: tuple[Partner, str]
) -> None:
    references = {"location_id": "LOC1", "evse_uids": ["3256", "3257"]}
    reply = ocpi.post(_authorize(card.uid) + "?type=RFID", references)
    assert (reply.http_status, reply.status_code) == (200, 1000)
    info = AuthorizationInfo.model_validate(reply.data)
    assert info.allowed == "ALLOWED"
    assert info.token.uid == card.uid
    assert info.token.contract_id == card.contract_id
    assert info.location is not None
    assert info.location.model_dump(mode="json") == references
    assert info.info is None
    reference = info.authorization_reference
    assert reference
    stored = authorization_for_reference(reference)
    assert stored is not None
    assert (stored.partner, stored.token, stored.allowed) == (cpo[0], card, "ALLOWED")
    assert (stored.location_id, stored.evse_uids, stored.source) == ("LOC1", ["3256", "3257"], "realtime")


def test_each_authorization_has_its_own_reference(ocpi: OcpiTestClient, card: Token) -> None:
    first = ocpi.post(_authorize(card.uid), None).data["authorization_reference"]
    second = ocpi.post(_authorize(card.uid), None).data["authorization_reference"]
    assert first != second
    assert len(first) <= 36
    assert Authorization.objects.count() == 2


def test_without_location_references_the_answer_has_no_location(ocpi: OcpiTestClient, card: Token) -> None:
    reply = ocpi.call("POST", _authorize(card.uid), raw_body=b"")
    assert reply.status_code == 1000
    assert reply.data["allowed"] == "ALLOWED"
    assert "location" not in reply.data
    assert Authorization.objects.get().location_id == ""


@pytest.mark.parametrize(
    ("setup", "allowed"),
    [
        ("blocked", "BLOCKED"),
        ("lost", "BLOCKED"),
        ("expired", "EXPIRED"),
        ("no_credit", "NO_CREDIT"),
        ("not_activated", "NOT_ALLOWED"),
        ("suspended", "NOT_ALLOWED"),
    ],
)
def test_refusals_carry_the_reason_for_the_driver(
    ocpi: OcpiTestClient, driver: Driver, setup: str, allowed: str
) -> None:
    token = token_issue(driver=driver, uid="CARD", activate=setup != "not_activated")
    if setup == "blocked":
        token_block(token=token)
    elif setup == "lost":
        token_report_lost(token=token)
    elif setup == "expired":
        Token.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif setup == "no_credit":
        Driver.objects.filter(pk=driver.pk).update(credit_limit=Decimal("50"), outstanding=Decimal("50"))
    elif setup == "suspended":
        Driver.objects.filter(pk=driver.pk).update(standing=Driver.Standing.SUSPENDED)

    reply = ocpi.post(_authorize("CARD"), {"location_id": "LOC1", "evse_uids": ["1"]})
    assert (reply.http_status, reply.status_code) == (200, 1000)
    info = AuthorizationInfo.model_validate(reply.data)
    assert info.allowed == allowed
    assert info.location is None  # nothing is allowed anywhere
    assert info.info is not None
    assert info.info.language == "en"
    assert info.info.text
    assert Authorization.objects.get().allowed == allowed  # and why: tests/roaming/test_authorization_reasons.py


def test_unknown_token_is_404_with_2004_and_no_data_and_the_refusal_is_kept(
    ocpi: OcpiTestClient, card: Token, cpo: tuple[Partner, str]
) -> None:
    reply = ocpi.post(_authorize("NOPE"), {"location_id": "LOC1"})
    assert (reply.http_status, reply.status_code) == (404, 2004)
    assert "data" not in reply.body
    # Same uid, other type: a different token.
    reply = ocpi.post(_authorize(card.uid.lower()) + "?type=APP_USER", None)
    assert (reply.http_status, reply.status_code) == (404, 2004)
    kept = Authorization.objects.order_by("pk")
    assert [(a.token, a.token_uid, a.token_type, a.allowed, a.reason) for a in kept] == [
        (None, "NOPE", "RFID", "NOT_ALLOWED", "unknown_token"),
        (None, card.uid.lower(), "APP_USER", "NOT_ALLOWED", "unknown_token"),
    ]
    assert (kept[0].partner, kept[0].location_id, kept[0].source) == (cpo[0], "LOC1", "realtime")


def test_token_type_and_uid_case(ocpi: OcpiTestClient, driver: Driver) -> None:
    token_issue(driver=driver, uid="app-7f3a", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)
    token_issue(driver=driver, uid="04ABCDEF")
    assert ocpi.post(_authorize("app-7f3a") + "?type=APP_USER", None).data["allowed"] == "ALLOWED"
    assert ocpi.post(_authorize("04abcdef"), None).data["token"]["uid"] == "04ABCDEF"
    assert ocpi.post(_authorize("APP-7F3A") + "?type=APP_USER", None).data["token"]["uid"] == "app-7f3a"
    assert ocpi.post(_authorize("x") + "?type=CARD", None).status_code == 2001


def test_invalid_location_references_are_2001(ocpi: OcpiTestClient, card: Token) -> None:
    assert ocpi.post(_authorize(card.uid), {"evse_uids": ["1"]}).status_code == 2001
    assert ocpi.call("POST", _authorize(card.uid), raw_body=b"{nope").http_status == 400


def test_authorize_is_one_statement_on_postgresql_once_the_caller_is_known(
    ocpi: OcpiTestClient, card: Token, settings: DjangoSettings, django_assert_num_queries: Any
) -> None:
    settings.OCPI_AUTH_CACHE_SECONDS = 30
    assert ocpi.post(_authorize(card.uid), None).status_code == 1000  # warms the caller cache
    # Deciding and recording (one statement on PostgreSQL; the token with its driver, then the authorization,
    # elsewhere), and the request log row, which production writes later, in bulk.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        assert ocpi.post(_authorize(card.uid), {"location_id": "L1"}).data["allowed"] == "ALLOWED"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_authorize_statement_is_prepared_after_a_few_runs(ocpi: OcpiTestClient, card: Token) -> None:
    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                [f'%INSERT INTO "{Authorization._meta.db_table}"%'],
            )
            return int(cursor.fetchone()[0])

    # Different values each time, the same statement to PostgreSQL: prepared once it has run five times.
    # (Each test starts with none: psycopg forgets its prepared statements when the test's transaction rolls back.)
    for n in range(4):
        assert ocpi.post(_authorize(card.uid), {"location_id": f"L{n}"}).status_code == 1000
    assert prepared() == 0
    for n in range(4, 6):
        assert ocpi.post(_authorize(card.uid), {"location_id": f"L{n}", "evse_uids": [f"E{n}"]}).status_code == 1000
    assert prepared() == 1
    assert Authorization.objects.filter(location_id="L5", evse_uids=["E5"]).count() == 1


# --- push to CPOs -------------------------------------------------------------------------------------


@pytest.fixture
def connected(cpo: tuple[Partner, str]) -> Partner:
    return connect(cpo[0])


def test_push_sends_every_token_once_in_order_and_moves_the_cursor(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver
) -> None:
    a = token_issue(driver=driver, uid="A")
    b = token_issue(driver=driver, uid="B", type=Token.Type.APP_USER)
    token_block(token=a)

    outcome = push_token_changes(partner=connected)
    assert (outcome.sent, outcome.error) == (2, "")
    assert [c.url for c in fake_cpo.puts()] == [
        f"{TOKENS_URL}/NL/EMS/A?type=RFID",
        f"{TOKENS_URL}/NL/EMS/B?type=APP_USER",
    ]
    first = OcpiToken.model_validate(fake_cpo.puts()[0].body)
    assert (first.uid, first.valid) == ("A", False)  # its current state, not the state at issue
    cursor = TokenPushCursor.objects.get(partner=connected)
    assert cursor.last_change_id == a.changes.order_by("pk").last().pk  # type: ignore[union-attr]
    assert token_changes_pending(cursor) == 0
    assert cursor.last_success_at is not None

    assert push_token_changes(partner=connected).sent == 0  # nothing new
    token_unblock(token=a)
    assert push_token_changes(partner=connected).sent == 1
    assert fake_cpo.puts()[-1].body["valid"] is True
    assert b.changes.count() == 1


def test_a_cpo_that_is_down_keeps_its_changes_pending_in_order(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver
) -> None:
    a = token_issue(driver=driver, uid="A")
    push_token_changes(partner=connected)

    fake_cpo.down = True
    token_block(token=a)
    token_issue(driver=driver, uid="B")
    outcome = push_token_changes(partner=connected)
    assert outcome.sent == 0
    assert "500" in outcome.error
    assert not outcome.permanent
    assert outcome.retry_in == 30
    cursor = TokenPushCursor.objects.get(partner=connected)
    assert token_changes_pending(cursor) == 2
    assert (cursor.failures, cursor.next_attempt_at is not None) == (1, True)
    assert "500" in cursor.last_error
    assert fake_cpo.puts()[-1].url.endswith("/A?type=RFID")  # stopped at the first one, B never tried

    # A periodic run respects the backoff; a second failure backs off longer.
    calls = len(fake_cpo.calls)
    assert push_token_changes(partner=connected, only_when_due=True).skipped
    assert len(fake_cpo.calls) == calls
    assert push_token_changes(partner=connected).retry_in == 60

    fake_cpo.down = False
    fake_cpo.calls.clear()
    assert push_token_changes(partner=connected).sent == 2
    assert [(c.url.rsplit("/", 1)[1], c.body["valid"]) for c in fake_cpo.puts()] == [
        ("A?type=RFID", False),
        ("B?type=RFID", True),
    ]
    cursor.refresh_from_db()
    assert (token_changes_pending(cursor), cursor.failures, cursor.last_error, cursor.next_attempt_at) == (
        0,
        0,
        "",
        None,
    )


def test_the_cursor_never_passes_a_change_that_was_not_delivered(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver
) -> None:
    a = token_issue(driver=driver, uid="A")  # change 1
    b = token_issue(driver=driver, uid="B")  # change 2
    token_block(token=a)  # change 3: A is sent once, first, with its current state
    fake_cpo.down_for = "/B?"
    outcome = push_token_changes(partner=connected)
    assert (outcome.sent, bool(outcome.error)) == (1, True)
    cursor = TokenPushCursor.objects.get(partner=connected)
    assert cursor.last_change_id == a.changes.order_by("pk").first().pk  # type: ignore[union-attr]
    assert token_changes_pending(cursor) == 2

    fake_cpo.down_for = ""
    fake_cpo.calls.clear()
    assert push_token_changes(partner=connected).sent == 2
    assert [c.body["uid"] for c in fake_cpo.puts()] == ["B", "A"]  # in the order of the changes left
    cursor.refresh_from_db()
    assert cursor.last_change_id == a.changes.order_by("pk").last().pk  # type: ignore[union-attr]
    assert b.changes.get().pk < cursor.last_change_id


def test_a_refused_push_is_permanent_and_stays_pending(connected: Partner, fake_cpo: FakeCpo, driver: Driver) -> None:
    token_issue(driver=driver, uid="A")
    fake_cpo.refuse = True
    outcome = push_token_changes(partner=connected)
    assert outcome.permanent
    assert len(fake_cpo.calls) == 1  # a 2xxx is not retried by the client
    assert token_changes_pending(TokenPushCursor.objects.get(partner=connected)) == 1


def test_staff_skip_a_token_the_cpo_refuses_and_the_changes_after_it_flow(
    connected: Partner,
    fake_cpo: FakeCpo,
    driver: Driver,
    admin_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    refused = token_issue(driver=driver, uid="BAD")
    stolen = token_issue(driver=driver, uid="STOLEN")
    token_block(token=stolen)
    fake_cpo.refuse_for = "/BAD?"
    assert push_token_changes(partner=connected).permanent
    cursor = TokenPushCursor.objects.get(partner=connected)
    assert token_changes_pending(cursor) == 3  # the stolen card's block waits behind the refused token

    with django_capture_on_commit_callbacks(execute=True):
        page = admin_client.post(
            "/admin/roaming/tokenpushcursor/",
            {"action": "skip_refused_token", "_selected_action": [cursor.pk]},
            follow=True,
        )
    assert f"token {refused} skipped; pushing the rest" in page.content.decode()
    cursor.refresh_from_db()
    assert token_changes_pending(cursor) == 0
    assert (cursor.failures, cursor.last_error) == (0, "")
    assert [(c.body["uid"], c.body["valid"]) for c in fake_cpo.puts()] == [("BAD", True), ("STOLEN", False)]

    # The skipped token is sent again at its next change (and refused again, for staff to see).
    token_block(token=refused)
    assert push_token_changes(partner=connected).permanent
    assert fake_cpo.puts()[-1].body["uid"] == "BAD"
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/roaming/tokenpushcursor/", {"action": "skip_refused_token", "_selected_action": [cursor.pk]}
        )
    nothing = admin_client.post(
        "/admin/roaming/tokenpushcursor/",
        {"action": "skip_refused_token", "_selected_action": [cursor.pk]},
        follow=True,
    )
    assert "nothing to skip" in nothing.content.decode()


def test_the_task_does_not_raise_in_process_and_the_next_run_delivers(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver
) -> None:
    token_issue(driver=driver, uid="A")
    fake_cpo.down = True
    assert push_tokens_task.apply(args=(connected.pk,)).get() == 0
    fake_cpo.down = False
    assert push_tokens_task.apply(args=(connected.pk,)).get() == 1


def test_a_new_registration_starts_again_at_zero(connected: Partner, fake_cpo: FakeCpo, driver: Driver) -> None:
    token_issue(driver=driver, uid="A")
    push_token_changes(partner=connected)
    connected.registered_at = timezone.now() + timedelta(seconds=1)
    connected.save()
    assert push_token_changes(partner=connected).sent == 1
    assert len(fake_cpo.puts()) == 2


def test_only_registered_cpos_with_a_tokens_receiver_get_pushes(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver, django_capture_on_commit_callbacks: Any
) -> None:
    registered_partner("No endpoint CPO", [("DE", "XYZ")])
    emsp, _ = registered_partner("Other EMSP", [("FR", "EMP")])
    emsp.roles.update(role="EMSP")
    connect(emsp)
    assert list(token_push_partners()) == [connected]

    token_issue(driver=driver, uid="A")
    with django_capture_on_commit_callbacks(execute=True):
        assert token_changes_enqueue() == 1
    assert [c.url for c in fake_cpo.puts()] == [f"{TOKENS_URL}/NL/EMS/A?type=RFID"]

    connected.status = Partner.Status.SUSPENDED
    connected.save()
    assert push_token_changes(partner=connected).skipped


def test_admin_lists_pending_changes_and_last_error(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver, admin_client: Client
) -> None:
    token_issue(driver=driver, uid="A")
    fake_cpo.down = True
    push_token_changes(partner=connected)
    page = admin_client.get("/admin/roaming/tokenpushcursor/").content.decode()
    assert connected.name in page
    assert "HTTP 500" in page
    token_issue(driver=driver, uid="B")
    assert token_changes_pending(TokenPushCursor.objects.get()) == 2


def test_admin_block_action_pushes_at_once(
    connected: Partner,
    fake_cpo: FakeCpo,
    card: Token,
    admin_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    push_token_changes(partner=connected)
    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post(
            "/admin/drivers/token/", {"action": "block", "_selected_action": [card.pk]}, follow=True
        )
    assert reply.status_code == 200
    assert fake_cpo.puts()[-1].body["valid"] is False


def test_tokens_added_and_edited_in_the_admin_reach_the_cpo(
    connected: Partner,
    fake_cpo: FakeCpo,
    driver: Driver,
    admin_client: Client,
    django_capture_on_commit_callbacks: Any,
) -> None:
    form = {
        "driver": driver.pk,
        "uid": "0A0B0C0D",
        "type": "RFID",
        "visual_number": "CARD-77",
        "issuer": "Example EMSP",
        "whitelist": "ALLOWED",
        "group_id": "",
        "language": "",
        "default_profile_type": "",
        "energy_contract_supplier": "",
        "energy_contract_id": "",
        "expires_at_0": "",
        "expires_at_1": "",
    }
    assert 'value="Example EMSP"' in admin_client.get("/admin/drivers/token/add/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post("/admin/drivers/token/add/", form).status_code == 302
    card = Token.objects.get(uid="0A0B0C0D")
    assert card.contract_id.startswith("NL-EMS-C")
    assert (card.status, card.language) == (Token.Status.ISSUED, driver.language)
    added = fake_cpo.puts()[-1]
    assert added.url.endswith("/NL/EMS/0A0B0C0D?type=RFID")
    assert (added.body["contract_id"], added.body["valid"]) == (card.contract_id, False)

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/drivers/token/", {"action": "activate", "_selected_action": [card.pk]})
    assert fake_cpo.puts()[-1].body["valid"] is True

    change_url = f"/admin/drivers/token/{card.pk}/change/"
    assert 'name="uid"' not in admin_client.get(change_url).content.decode()  # another uid is another token
    before = Token.objects.get(pk=card.pk).last_updated
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(change_url, {**form, "uid": "FFFFFFFF", "whitelist": "NEVER"}).status_code == 302

    card.refresh_from_db()
    assert (card.uid, card.whitelist) == ("0A0B0C0D", "NEVER")
    assert card.last_updated > before
    assert list(card.changes.values_list("reason", flat=True).order_by("pk")) == ["issued", "activated", "edited"]
    edited = fake_cpo.puts()[-1]
    assert (edited.body["uid"], edited.body["whitelist"]) == ("0A0B0C0D", "NEVER")


def test_suspending_a_driver_invalidates_their_tokens_at_every_cpo(
    connected: Partner, fake_cpo: FakeCpo, driver: Driver, card: Token, admin_client: Client, ocpi: OcpiTestClient
) -> None:
    app = token_issue(driver=driver, uid="APP-1", type=Token.Type.APP_USER)
    push_token_changes(partner=connected)
    before = Token.objects.get(pk=card.pk).last_updated

    form = {
        "user": driver.user_id,
        "standing": "suspended",
        "language": driver.language,
        "currency": driver.currency,
        "credit_limit": "",
        "country": driver.country,
        "tokens-TOTAL_FORMS": "2",
        "tokens-INITIAL_FORMS": "2",
        "tokens-0-id": card.pk,
        "tokens-0-driver": driver.pk,
        "tokens-1-id": app.pk,
        "tokens-1-driver": driver.pk,
    }
    assert admin_client.post(f"/admin/drivers/driver/{driver.pk}/change/", form).status_code == 302
    driver.refresh_from_db()
    assert driver.standing == "suspended"
    assert push_token_changes(partner=connected).sent == 2
    assert {(c.body["uid"], c.body["valid"]) for c in fake_cpo.puts()[-2:]} == {(card.uid, False), ("APP-1", False)}
    assert Token.objects.get(pk=card.pk).last_updated > before  # CPOs that pull see it too
    pulled = {t["uid"]: t["valid"] for t in ocpi.get("/ocpi/2.2.1/tokens").data}
    assert pulled == {card.uid: False, "APP-1": False}

    assert (
        admin_client.post(f"/admin/drivers/driver/{driver.pk}/change/", {**form, "standing": "good"}).status_code == 302
    )
    assert push_token_changes(partner=connected).sent == 2
    assert {c.body["valid"] for c in fake_cpo.puts()[-2:]} == {True}
    reasons = list(card.changes.values_list("reason", flat=True).order_by("pk"))
    assert reasons == ["issued", "driver suspended", "driver good"]
