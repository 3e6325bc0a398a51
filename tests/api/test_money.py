"""The money part of the profile through the API: plans and switching them, the SEPA mandate, the balance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.balances import driver_balances_refresh
from billing.charges import plan_in_force, plan_subscribe
from billing.collection import billing_today, mandate_create, payment_record
from billing.models import Mandate, PlanPriceRule, PlanSubscription, RetailPlan, SessionCharge
from drivers.models import Driver, Token
from tests.api.conftest import signed_in
from tests.billing.conftest import (  # noqa: F401 - fixtures used here
    cdr_body,
    cpo,
    held_tariff,
    ocpi,
    our_token,
    post_cdr,
)
from tests.billing.factories import a_cdr, a_charge, a_driver, a_partner, a_plan, an_invoice
from tests.roaming.conftest import OcpiTestClient

pytestmark = pytest.mark.django_db

D = Decimal
GOOD_IBAN = "NL91 ABNA 0417 1643 00"
FMT = "%Y-%m-%dT%H:%M:%SZ"


def _plans() -> tuple[RetailPlan, RetailPlan]:
    flex = a_plan("Flex", markup_percent=D("15"), session_fee=D("0.35"), is_default=True)
    plus = a_plan("Plus", basis=RetailPlan.Basis.OWN_PRICES, monthly_fee=D("4.95"))
    PlanPriceRule.objects.create(plan=plus, power_class="AC", price_per_kwh=D("0.39"))
    PlanPriceRule.objects.create(plan=plus, partner=a_partner("FastNed"), power_class="DC", price_per_kwh=D("0.49"))
    return flex, plus


# --- plans -----------------------------------------------------------------------------------------------


def test_the_plans_a_driver_can_choose_are_the_available_ones_in_their_currency(app: APIClient) -> None:
    flex, _plus = _plans()
    a_plan("Legacy", available=False)
    a_plan("Flex USD", currency="USD")

    reply = app.get("/api/v1/plans")

    assert reply.status_code == 200
    page = reply.json()
    assert (page["count"], [plan["name"] for plan in page["results"]]) == (2, ["Flex", "Plus"])  # cheapest first
    first, second = page["results"]
    assert first | {} == {
        "id": flex.pk,
        "name": "Flex",
        "currency": "EUR",
        "basis": "cost_plus",
        "monthly_fee": "0.0000",
        "session_fee": "0.3500",
        "markup_percent": "15.0000",
        "markup_per_kwh": "0.0000",
        "idle_fee_per_minute": "0.0000",
        "idle_grace_minutes": 0,
        "price_rules": [],
        "is_default": True,
    }
    assert (second["basis"], second["monthly_fee"]) == ("own_prices", "4.9500")
    assert second["price_rules"] == [
        {"operator": None, "country": "", "power_class": "AC", "price_per_kwh": "0.3900", "price_per_hour": "0.0000"},
        {
            "operator": "FastNed",
            "country": "",
            "power_class": "DC",
            "price_per_kwh": "0.4900",
            "price_per_hour": "0.0000",
        },
    ]


def test_my_plan_is_the_default_until_i_choose_one_then_the_one_chosen(app: APIClient, ann: Driver) -> None:
    assert app.get("/api/v1/me/plan").json() == {"plan": None, "since": None, "chosen": False}
    _flex, plus = _plans()
    mine = app.get("/api/v1/me/plan").json()
    assert (mine["plan"]["name"], mine["since"], mine["chosen"]) == ("Flex", None, False)

    switched = app.put("/api/v1/me/plan", {"plan": plus.pk}, format="json")

    assert switched.status_code == 200
    assert (switched.json()["plan"]["name"], switched.json()["chosen"]) == ("Plus", True)
    assert app.get("/api/v1/me/plan").json() == switched.json()
    assert plan_in_force(driver=ann) == plus
    # Choosing it again changes nothing.
    again = app.put("/api/v1/me/plan", {"plan": plus.pk}, format="json")
    assert again.json()["since"] == switched.json()["since"]
    assert PlanSubscription.objects.filter(driver=ann).count() == 1


def test_only_a_plan_on_offer_can_be_chosen(app: APIClient) -> None:
    legacy, dollars = a_plan("Legacy", available=False), a_plan("Flex USD", currency="USD")
    for plan_id in (legacy.pk, dollars.pk, 999_999):
        reply = app.put("/api/v1/me/plan", {"plan": plan_id}, format="json")
        assert reply.status_code == 400
        assert reply.json()["error"]["fields"] == {"plan": ["This is not a plan you can choose."]}
    missing = app.put("/api/v1/me/plan", {}, format="json")
    assert (missing.status_code, list(missing.json()["error"]["fields"])) == (400, ["plan"])


def test_a_change_staff_scheduled_for_later_is_not_overridden(app: APIClient, ann: Driver) -> None:
    flex, plus = _plans()
    plan_subscribe(driver=ann, plan=plus, at=timezone.now() + timedelta(days=1))

    reply = app.put("/api/v1/me/plan", {"plan": flex.pk}, format="json")

    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "plan_change_pending")
    assert app.put("/api/v1/me/plan", {"plan": 2**63}, format="json").status_code == 400


def test_a_session_started_before_the_switch_keeps_its_plan(
    ocpi: OcpiTestClient,  # noqa: F811
    held_tariff: dict[str, Any],  # noqa: F811
    our_token: Token,  # noqa: F811
) -> None:
    driver = our_token.driver
    flex, plus = _plans()
    plan_subscribe(driver=driver, plan=flex, at=timezone.now() - timedelta(days=30))
    start = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)

    reply = signed_in(driver).put("/api/v1/me/plan", {"plan": plus.pk}, format="json")
    assert reply.status_code == 200
    # The CDR of a session that started before the switch arrives after it: charged under Flex.
    post_cdr(ocpi, cdr_body(start=start.strftime(FMT), end=(start + timedelta(hours=1)).strftime(FMT)))

    charge = SessionCharge.objects.get(driver=driver)
    assert charge.plan == flex
    # 4.50 (the CPO's price by T12) + 15 % + the 0.35 session fee
    assert charge.amount_excl_vat == D("4.50") * D("1.15") + D("0.35")
    assert plan_in_force(driver=driver) == plus


# --- the SEPA mandate ------------------------------------------------------------------------------------


def test_a_mistyped_iban_is_a_field_error(app: APIClient, ann: Driver) -> None:
    reply = app.post("/api/v1/me/mandate", {"iban": "NL91 ABNA 0417 1643 01"}, format="json")

    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["type"], list(error["fields"])) == ("validation_error", ["iban"])
    assert "not a valid IBAN" in error["fields"]["iban"][0]
    bad_bic = app.post("/api/v1/me/mandate", {"iban": GOOD_IBAN, "bic": "NOPE"}, format="json")
    assert list(bad_bic.json()["error"]["fields"]) == ["bic"]
    assert not Mandate.objects.filter(driver=ann).exists()


def test_sign_a_mandate_and_see_it_masked_then_revoke_it(app: APIClient, ann: Driver) -> None:
    assert app.get("/api/v1/me/mandate").status_code == 404

    signed = app.post("/api/v1/me/mandate", {"iban": GOOD_IBAN}, format="json")

    assert signed.status_code == 201
    body = signed.json()
    mandate = Mandate.objects.get(driver=ann)
    assert body == {
        "reference": mandate.reference,
        "debtor_name": "Ann Smit",  # the driver's name unless another is given
        "iban": "NL91 **** 4300",
        "bic": "ABNANL2A",  # derived from the IBAN
        "signed_on": billing_today().isoformat(),
        "status": "ACTIVE",
        "creditor_name": "Example EMSP B.V.",
        "creditor_id": "NL97ZZZ123456780000",
    }
    assert mandate.iban == "NL91ABNA0417164300"
    assert "0417" not in signed.content.decode()
    assert app.get("/api/v1/me/mandate").json() == body

    # A new one replaces it.
    second = app.post("/api/v1/me/mandate", {"iban": "DE89370400440532013000", "debtor_name": "A. Smit"}, format="json")
    assert (second.status_code, second.json()["iban"], second.json()["debtor_name"]) == (
        201,
        "DE89 **** 3000",
        "A. Smit",
    )
    mandate.refresh_from_db()
    assert mandate.status == Mandate.Status.REVOKED

    assert app.delete("/api/v1/me/mandate").status_code == 204
    assert not Mandate.objects.filter(driver=ann, status=Mandate.Status.ACTIVE).exists()
    gone = app.get("/api/v1/me/mandate")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "no_mandate")
    assert app.delete("/api/v1/me/mandate").status_code == 404


def test_another_drivers_mandate_is_never_seen_nor_revoked(app: APIClient) -> None:
    bob = a_driver("Bob Jansen")
    bobs = mandate_create(driver=bob, iban=GOOD_IBAN, debtor_name="Bob Jansen", signed_on=billing_today())

    assert app.get("/api/v1/me/mandate").status_code == 404
    assert app.delete("/api/v1/me/mandate").status_code == 404
    bobs.refresh_from_db()
    assert bobs.status == Mandate.Status.ACTIVE
    assert signed_in(bob).get("/api/v1/me/mandate").json()["reference"] == bobs.reference


# --- the balance -----------------------------------------------------------------------------------------


def test_the_balance_adds_up_invoices_payments_and_charges(app: APIClient, ann: Driver) -> None:
    partner, plan = a_partner(), a_plan()
    today = billing_today()
    overdue = an_invoice(ann, "121.00", due_date=today - timedelta(days=3))
    an_invoice(ann, "30.25")
    paid = an_invoice(ann, "12.10")
    payment_record(invoice=overdue, amount=D("100.00"), received_on=today)  # part of it
    payment_record(invoice=paid, amount=D("12.10"), received_on=today)
    a_charge(a_cdr(partner, ann), plan, amount="10.00", vat_rate="21")  # 12.10 incl. VAT, not invoiced
    a_charge(a_cdr(partner, ann), plan, amount="50.00", invoice=paid)  # on an invoice: counted there
    Driver.objects.filter(pk=ann.pk).update(credit_limit=D("200.00"))
    bob = a_driver("Bob Jansen")
    an_invoice(bob, "99.00")
    driver_balances_refresh(driver_ids=[ann.pk, bob.pk])

    reply = app.get("/api/v1/me/balance")

    assert reply.status_code == 200
    assert reply.json() == {
        "currency": "EUR",
        "outstanding": "51.25",  # 121.00 + 30.25 + 12.10 - 100.00 - 12.10
        "uninvoiced": "12.10",
        "total": "63.35",
        "credit_limit": "200.00",
        "credit_available": "136.65",
        "open_invoices": {"count": 2, "amount": "51.25"},
        "overdue_invoices": {"count": 1, "amount": "21.00"},
    }
    assert signed_in(bob).get("/api/v1/me/balance").json()["outstanding"] == "99.00"


def test_a_new_driver_owes_nothing_and_has_no_limit(app: APIClient) -> None:
    assert app.get("/api/v1/me/balance").json() == {
        "currency": "EUR",
        "outstanding": "0.00",
        "uninvoiced": "0.00",
        "total": "0.00",
        "credit_limit": None,
        "credit_available": None,
        "open_invoices": {"count": 0, "amount": "0.00"},
        "overdue_invoices": {"count": 0, "amount": "0.00"},
    }


# --- who may call ----------------------------------------------------------------------------------------

OPERATIONS = [
    ("get", "/api/v1/plans"),
    ("get", "/api/v1/me/plan"),
    ("put", "/api/v1/me/plan"),
    ("get", "/api/v1/me/mandate"),
    ("post", "/api/v1/me/mandate"),
    ("delete", "/api/v1/me/mandate"),
    ("get", "/api/v1/me/balance"),
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_signed_out_callers_are_refused(method: str, path: str) -> None:
    reply = getattr(APIClient(), method)(path, {}, format="json")
    assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated")
