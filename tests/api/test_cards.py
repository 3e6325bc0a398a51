"""Cards and tokens: the list with status, reporting a card lost (every CPO hears of it), ordering a card;
each for the signed-in driver only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from drivers.models import Driver, Token, TokenChange
from drivers.services import token_issue
from tests.api.conftest import signed_in
from tests.billing.factories import a_driver

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(db: None) -> Driver:
    return a_driver("Bob Jansen")


def test_the_list_shows_your_cards_and_app_token_with_status(app: APIClient, ann: Driver, bob: Driver) -> None:
    card = ann.tokens.get()
    app_token = token_issue(driver=ann, uid="APP-ANN", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)

    reply = app.get("/api/v1/cards")

    assert reply.status_code == 200
    page = reply.json()
    assert page["count"] == 2
    assert [row["id"] for row in page["results"]] == [app_token.pk, card.pk]
    assert page["results"][1] | {"issued_at": None} == {
        "id": card.pk,
        "type": "RFID",
        "contract_id": card.contract_id,
        "visual_number": "",
        "status": "active",
        "valid": True,
        "issued_at": None,
        "expires_at": None,
    }
    assert bob.tokens.get().pk not in {row["id"] for row in page["results"]}

    assert app.get(f"/api/v1/cards/{card.pk}").json()["contract_id"] == card.contract_id


def test_reporting_a_card_lost_blocks_it_for_every_cpo(app: APIClient, ann: Driver) -> None:
    card = ann.tokens.get()

    reply = app.post(f"/api/v1/cards/{card.pk}/lost")

    assert reply.status_code == 200
    assert (reply.json()["status"], reply.json()["valid"]) == ("lost", False)
    card.refresh_from_db()
    assert card.status == Token.Status.LOST
    assert TokenChange.objects.filter(token=card, reason="lost").count() == 1  # what the push to CPOs reads
    assert app.post(f"/api/v1/cards/{card.pk}/lost").status_code == 200  # again: harmless
    assert TokenChange.objects.filter(token=card, reason="lost").count() == 1


def test_only_cards_can_be_reported_lost(app: APIClient, ann: Driver) -> None:
    app_token = token_issue(driver=ann, uid="APP-ANN", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)
    reply = app.post(f"/api/v1/cards/{app_token.pk}/lost")
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "not_a_card")

    expired = ann.tokens.get(type=Token.Type.RFID)
    Token.objects.filter(pk=expired.pk).update(status=Token.Status.EXPIRED)
    reply = app.post(f"/api/v1/cards/{expired.pk}/lost")
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "card_state")


def test_ordering_a_card(app: APIClient, ann: Driver) -> None:
    first = app.post("/api/v1/cards", HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == 201
    card = Token.objects.get(pk=first.json()["id"])
    assert (card.driver, card.type, card.status, card.valid) == (ann, "RFID", "issued", False)
    assert TokenChange.objects.filter(token=card, reason="issued").exists()

    retry = app.post("/api/v1/cards", HTTP_IDEMPOTENCY_KEY="order-1")
    assert (retry.status_code, retry.json(), retry.headers["Idempotent-Replayed"]) == (201, first.json(), "true")
    again = app.post("/api/v1/cards")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "card_already_ordered")
    assert ann.tokens.filter(status=Token.Status.ISSUED).count() == 1


def test_a_card_is_sent_to_your_address(ann: Driver) -> None:
    Driver.objects.filter(pk=ann.pk).update(street="")
    ann.refresh_from_db()
    reply = signed_in(ann).post("/api/v1/cards")
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "address_missing")


def test_another_drivers_card_is_not_found(app: APIClient, bob: Driver) -> None:
    bobs = bob.tokens.get()
    for method, path in (("get", f"/api/v1/cards/{bobs.pk}"), ("post", f"/api/v1/cards/{bobs.pk}/lost")):
        reply = getattr(app, method)(path)
        assert (reply.status_code, reply.json()["error"]["type"]) == (404, "not_found")
    assert app.get("/api/v1/cards/999999").status_code == 404
    bobs.refresh_from_db()
    assert bobs.status == Token.Status.ACTIVE
    assert not TokenChange.objects.filter(token=bobs, reason="lost").exists()


ENDPOINTS: list[tuple[str, str]] = [
    ("get", "/api/v1/cards"),
    ("post", "/api/v1/cards"),
    ("get", "/api/v1/cards/{id}"),
    ("post", "/api/v1/cards/{id}/lost"),
    ("post", "/api/v1/account/close"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_signed_out_is_refused(ann: Driver, method: str, path: str) -> None:
    reply: Any = getattr(APIClient(), method)(path.format(id=ann.tokens.get().pk))
    assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated")


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_a_user_who_is_not_a_driver_is_refused(ann: Driver, method: str, path: str) -> None:
    staff = get_user_model().objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    reply: Any = getattr(client, method)(path.format(id=ann.tokens.get().pk))
    assert (reply.status_code, reply.json()["error"]["type"]) == (403, "permission_denied")


def test_every_operation_is_documented_with_examples_and_errors(client: Any) -> None:
    schema = client.get("/api/v1/schema/?format=json").json()
    ours = {
        path: operations
        for path, operations in schema["paths"].items()
        if path.startswith(("/api/v1/account", "/api/v1/auth", "/api/v1/cards"))
    }
    assert len(ours) == 12
    for path, operations in ours.items():
        for method, operation in operations.items():
            assert all(operation.get(key) for key in ("operationId", "summary", "tags")), (method, path)
            errors = [status for status in operation["responses"] if status.startswith(("4", "5"))]
            assert errors, (method, path)
            for status in errors:
                body = operation["responses"][status]["content"]["application/json"]
                assert body["schema"]["$ref"].endswith("/ErrorBody"), (method, path, status)
                assert body["examples"], (method, path, status)
            if "requestBody" in operation:
                assert operation["requestBody"]["content"]["application/json"].get("examples"), (method, path)
