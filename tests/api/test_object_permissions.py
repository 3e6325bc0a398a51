"""Object permissions of the driver API, for every route of api/urls.py: a driver never reads or changes another
driver's objects. Routes with an object id are called, with every method their view serves, on the other driver's
objects (404, and nothing of theirs changes); lists and the driver's own resources never show the other's objects.
A route must be classified below, or the first test fails: a new endpoint gets a permission test when it is routed.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.urls import URLPattern, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api import urls as api_urls
from billing.models import Invoice
from drivers.models import Driver, Token
from drivers.services import token_issue
from roaming.models import ChargingSession, Command
from tests.api.conftest import signed_in
from tests.billing.factories import a_cdr, a_charge, a_driver, a_partner, a_plan
from tests.roaming.conftest import running_session

pytestmark = pytest.mark.django_db

#: Routes naming an object by id: the URL parameter → the other driver's object to put there.
OBJECT_ROUTES = {
    "api-card": {"card_id": "card"},
    "api-card-lost": {"card_id": "card"},
    "api-charging-session": {"session_id": "live_session"},
    "api-charging-stop": {"session_id": "live_session"},
    "api-charging-command": {"command_id": "command"},
    "api-charging-reservation-cancel": {"reservation_id": "reservation"},
    "api-history-session": {"session_id": "session"},
    "api-history-charge": {"charge_id": "charge"},
    "api-invoice": {"invoice_id": "invoice"},
    "api-invoice-pdf": {"invoice_id": "invoice"},
}
#: Lists of the caller's objects: the other driver's ids never appear in them.
OWN_LISTS = {"api-cards", "api-history-sessions", "api-history-charges", "api-invoices"}
#: The caller's own resources (no id in the URL: the signed-in driver is the object).
OWN_RESOURCES = {"api-profile", "api-my-plan", "api-mandate", "api-balance", "api-account-close"}
#: Routes with no driver's object behind them, and why.
NO_DRIVER_OBJECT = {
    "api-schema": "the API's schema",
    "api-docs": "the API's documentation page",
    "api-redoc": "the API's documentation page",
    "api-plans": "our plans, the same for every driver",
    "api-price": "a price of a charger, the same for every driver of a plan",
    "api-chargers-near": "chargers, public",
    "api-chargers-map": "chargers, public",
    "api-chargers-location": "a location, public",
    "api-sign-up": "creates a new account",
    "api-verify-email": "acts on the account the emailed code names (signed, single use)",
    "api-verify-email-resend": "sends to the address given, answers the same whether it exists or not",
    "api-password-reset": "sends to the address given, answers the same whether it exists or not",
    "api-password-reset-confirm": "acts on the account the emailed code names (signed, single use)",
    "api-login": "signs in with the caller's own email and password",
    "api-refresh": "refreshes the refresh token the caller holds",
    "api-logout": "blacklists the refresh token the caller holds",
    "api-charging-start": "starts with the caller's own app token: the request names no card or driver",
    "api-charging-reserve": "reserves with the caller's own app token: the request names no card or driver",
}
METHODS = ("get", "post", "put", "patch", "delete")


def _routes() -> list[URLPattern]:
    return [p for p in api_urls.urlpatterns if isinstance(p, URLPattern)]


def _served(pattern: URLPattern) -> list[str]:
    view = pattern.callback.view_class  # type: ignore[attr-defined]
    return [m for m in METHODS if hasattr(view, m)]


def _rows() -> dict[str, int]:
    names = ("drivers", "billing", "roaming", "api", "emsp")
    return {m._meta.label: m._default_manager.count() for n in names for m in apps.get_app_config(n).get_models()}


@pytest.fixture
def bobs() -> dict[str, Any]:
    """Bob's things: a card, a live session, a finished one with its charge, an invoice, a start and a reservation."""
    bob = a_driver("Bob Jansen")
    app_token = token_issue(driver=bob, uid="APP-BOB", type=Token.Type.APP_USER)
    partner = a_partner()
    live = running_session(partner, ("NL", "CPO"))
    ChargingSession.objects.filter(pk=live.pk).update(driver=bob)
    start = timezone.now() - timedelta(days=2)
    done = running_session(partner, ("NL", "CPO"), session_id="S2", location_id="LOC2", status="COMPLETED")
    ChargingSession.objects.filter(pk=done.pk).update(
        driver=bob, start_date_time=start, end_date_time=start + timedelta(hours=1), last_updated=start
    )
    done.refresh_from_db()
    cdr = a_cdr(partner, bob, session=done)
    a_charge(cdr, a_plan())
    invoice = Invoice.objects.create(
        number="BOB-1", driver=bob, issued_at=timezone.now(), issue_date=date.today(), due_date=date.today(),
        currency="EUR", customer_name="Bob Jansen", total_incl_vat=Decimal("12.10"),
    )  # fmt: skip
    command = Command.objects.create(partner=partner, type=Command.Type.START_SESSION, token=app_token)
    reservation = Command.objects.create(
        partner=partner, type=Command.Type.RESERVE_NOW, token=app_token, result="ACCEPTED", reservation_id="R1"
    )
    return {
        "driver": bob,
        "client": signed_in(bob),
        "card": bob.tokens.exclude(type=Token.Type.APP_USER).get().pk,
        "live_session": live.pk,
        "session": done.pk,
        "charge": cdr.pk,
        "invoice": invoice.pk,
        "command": command.reference,
        "reservation": reservation.reference,
    }


@pytest.fixture
def ann_app(db: None) -> APIClient:
    ann = a_driver("Ann Smit")
    token_issue(driver=ann, uid="APP-ANN", type=Token.Type.APP_USER)
    return signed_in(ann)


def _bobs_view(bobs: dict[str, Any]) -> list[Any]:
    """What Bob's app reads of his objects, and the row counts of every table."""
    client = bobs["client"]
    paths = [
        f"/api/v1/cards/{bobs['card']}",
        f"/api/v1/charging/sessions/{bobs['live_session']}",
        f"/api/v1/history/sessions/{bobs['session']}",
        f"/api/v1/history/charges/{bobs['charge']}",
        f"/api/v1/invoices/{bobs['invoice']}",
        f"/api/v1/charging/commands/{bobs['command']}",
        "/api/v1/me",
    ]
    return [client.get(path).json() for path in paths] + [_rows()]


def test_every_route_is_classified() -> None:
    names = {p.name for p in _routes()}
    classified = set(OBJECT_ROUTES) | OWN_LISTS | OWN_RESOURCES | set(NO_DRIVER_OBJECT)
    assert names - classified == set(), "routes without a permission test: classify them here"
    assert classified - names == set(), "classified routes that are not routed any more"
    for pattern in _routes():
        if pattern.name in OBJECT_ROUTES:
            assert set(pattern.pattern.converters) == set(OBJECT_ROUTES[pattern.name]), pattern.name


@pytest.mark.parametrize(
    ("name", "method"), [(p.name, m) for p in _routes() if p.name in OBJECT_ROUTES for m in _served(p)], ids=str
)
def test_another_drivers_objects_are_not_found_with_any_method(
    ann_app: APIClient, bobs: dict[str, Any], name: str, method: str
) -> None:
    path = reverse(name, kwargs={param: bobs[thing] for param, thing in OBJECT_ROUTES[name].items()})
    before = _bobs_view(bobs)
    reply = getattr(ann_app, method)(path, {}, format="json")
    assert reply.status_code == 404, (path, reply.status_code, reply.content[:300])
    assert reply.json()["error"]["type"] == "not_found"
    assert _bobs_view(bobs) == before
    if method == "get":
        assert bobs["client"].get(path).status_code == 200  # the path names Bob's object: he reads it


@pytest.mark.parametrize("name", sorted(OWN_LISTS))
def test_lists_never_show_another_drivers_objects(ann_app: APIClient, bobs: dict[str, Any], name: str) -> None:
    pattern = next(p for p in _routes() if p.name == name)
    mine = ann_app.get("/api/v1/" + str(pattern.pattern)).json()
    theirs = bobs["client"].get("/api/v1/" + str(pattern.pattern)).json()
    assert theirs["results"], "Bob sees his own"
    bob_ids = {item["id"] for item in theirs["results"]}
    assert bob_ids.isdisjoint({item["id"] for item in mine["results"]})


@pytest.mark.parametrize("name", sorted(OWN_RESOURCES - {"api-account-close"}))
def test_own_resources_are_the_callers_own(ann_app: APIClient, bobs: dict[str, Any], name: str) -> None:
    pattern = next(p for p in _routes() if p.name == name)
    reply = ann_app.get("/api/v1/" + str(pattern.pattern))
    assert reply.status_code in (200, 404), reply.content[:300]  # 404: Ann has no mandate
    text = reply.content.decode()
    bob: Driver = bobs["driver"]
    assert bob.user.email not in text
    assert "Jansen" not in text


def test_closing_an_account_closes_the_callers_own(ann_app: APIClient, bobs: dict[str, Any]) -> None:
    before = _bobs_view(bobs)
    ann_app.post("/api/v1/account/close", {"password": "pw"}, format="json")
    after = _bobs_view(bobs)
    assert after[:-1] == before[:-1]  # Bob reads all his objects as before (Ann's rows may change)
