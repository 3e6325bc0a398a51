"""The API's conventions: one error body, JWT sign-in, the schema, Idempotency-Key and ETags."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from api.etag import etag_response
from api.idempotency import idempotent
from api.models import IdempotencyKey
from api.views.base import DriverView
from drivers.models import Driver
from tests.billing.factories import a_driver

pytestmark = pytest.mark.django_db


def test_profile_read_and_change(app: APIClient, ann: Driver) -> None:
    reply = app.get("/api/v1/me")
    assert reply.status_code == 200
    assert reply.json() | {} == {
        "email": ann.user.email,
        "first_name": "Ann",
        "last_name": "Smit",
        "street": "Damrak 1",
        "postal_code": "1012 LG",
        "city": "Amsterdam",
        "country": "NL",
        "language": "en",
        "currency": "EUR",
        "standing": "good",
    }

    reply = app.patch("/api/v1/me", {"city": "Utrecht", "language": "nl", "last_name": "de Vries"}, format="json")

    assert reply.status_code == 200
    ann.refresh_from_db()
    ann.user.refresh_from_db()
    assert (ann.city, ann.language, ann.user.last_name) == ("Utrecht", "nl", "de Vries")


def test_every_error_has_the_one_body(app: APIClient) -> None:
    invalid = app.patch("/api/v1/me", {"country": "XX", "postal_code": "1" * 17}, format="json")
    assert invalid.status_code == 400
    error = invalid.json()["error"]
    assert (error["type"], error["code"]) == ("validation_error", "invalid")
    assert set(error["fields"]) == {"country", "postal_code"}

    signed_out = APIClient().get("/api/v1/me")
    assert signed_out.status_code == 401
    assert signed_out.json()["error"]["type"] == "not_authenticated"
    assert signed_out.headers["WWW-Authenticate"].startswith("Bearer")

    bad_token = APIClient(HTTP_AUTHORIZATION="Bearer not-a-jwt").get("/api/v1/me")
    assert (bad_token.status_code, bad_token.json()["error"]["code"]) == (401, "token_not_valid")

    unknown = app.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found"

    method = app.delete("/api/v1/me")
    assert (method.status_code, method.json()["error"]["type"]) == (405, "method_not_allowed")


def test_staff_without_a_driver_account_are_refused(db: None) -> None:
    staff = get_user_model().objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    reply = client.get("/api/v1/me")
    assert (reply.status_code, reply.json()["error"]["type"]) == (403, "permission_denied")


def test_the_schema_documents_every_operation_with_its_errors(client: Any) -> None:
    schema = client.get("/api/v1/schema/?format=json").json()
    me = schema["paths"]["/api/v1/me"]
    assert set(me) >= {"get", "patch"}
    assert {"200", "400", "401"} <= set(me["patch"]["responses"])
    assert me["patch"]["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert client.get("/api/v1/docs/").status_code == 200
    assert client.get("/api/v1/redoc/").status_code == 200


_counter = itertools.count()


class _Start(DriverView):
    """A stand-in for an endpoint that starts something: counts how often it really ran."""

    ran: list[int] = []

    @idempotent
    def post(self, request: Request) -> Response:
        number = next(_counter)
        self.ran.append(number)
        return Response({"started": number}, status=201)


def _post(driver: Driver, body: dict[str, Any], key: str | None) -> Response:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    request = APIRequestFactory().post("/api/v1/start", body, format="json", **headers)
    force_authenticate(request, user=driver.user)
    return _Start.as_view()(request)


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(ann: Driver) -> None:
    _Start.ran.clear()
    first = _post(ann, {"evse": "E1"}, "k-1")
    again = _post(ann, {"evse": "E1"}, "k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(_Start.ran) == 1

    other_body = _post(ann, {"evse": "E2"}, "k-1")
    assert (other_body.status_code, other_body.data["error"]["code"]) == (422, "idempotency_key_reused")
    assert _post(ann, {"evse": "E2"}, "k-2").status_code == 201
    assert _post(ann, {"evse": "E2"}, None).status_code == 201
    assert len(_Start.ran) == 3


def test_a_key_still_in_progress_answers_conflict_and_keys_are_per_driver(ann: Driver) -> None:
    _Start.ran.clear()
    IdempotencyKey.objects.create(user=ann.user, key="busy", method="POST", path="/api/v1/start", body_hash="x")
    bob = a_driver("Bob Jansen")
    assert _post(bob, {"evse": "E1"}, "busy").status_code == 201  # Bob's key, not Ann's
    busy = IdempotencyKey.objects.get(user=ann.user)
    busy.body_hash = hashlib.sha256(b'{"evse":"E1"}').hexdigest()
    busy.save()
    reply = _post(ann, {"evse": "E1"}, "busy")
    assert (reply.status_code, reply.data["error"]["code"]) == (409, "in_progress")


def test_etag_gives_304_while_nothing_changed(ann: Driver) -> None:
    factory = APIRequestFactory()
    first = etag_response(Request(factory.get("/")), {"energy": "1.5"})
    assert first.status_code == 200
    same = etag_response(Request(factory.get("/", HTTP_IF_NONE_MATCH=first.headers["ETag"])), {"energy": "1.5"})
    assert (same.status_code, same.data) == (304, None)
    changed = etag_response(Request(factory.get("/", HTTP_IF_NONE_MATCH=first.headers["ETag"])), {"energy": "1.6"})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_every_operation_documents_its_answer_with_an_example_and_its_errors(client: Any) -> None:
    """What a mobile team builds against without asking us: each success answer shows an example, and each
    error answer is the one error body."""
    schema = client.get("/api/v1/schema/?format=json").json()
    operations = [(method, path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 30
    for method, path, operation in operations:
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert successes, (method, path)
        for response in successes.values():
            for media_type, content in response.get("content", {}).items():
                assert content.get("examples") or media_type == "application/pdf", (method, path, media_type)
        for code, response in operation["responses"].items():
            if code >= "400":
                body = response["content"]["application/json"]
                assert body["schema"]["$ref"].endswith("/ErrorBody"), (method, path, code)
