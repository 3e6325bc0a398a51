"""A property-based run of the whole /api/v1/ schema against a live server (schemathesis): for every operation
the schema documents, generated requests (valid and invalid) from a signed-in driver's app never get a 5xx, and
every response conforms to the schema (status code documented, body and headers as documented).

Bounded and deterministic: a few examples per operation, derandomized, no example database; it covers every
operation in the schema, so a new endpoint is fuzzed from the moment it is routed.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.urls import URLPattern
from hypothesis import given
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import urls as api_urls
from billing.balances import driver_balances_refresh
from billing.collection import billing_today, mandate_create
from billing.models import PlanPriceRule, RetailPlan
from roaming.models import Connector
from tests.billing.conftest import cpo, held_tariff, location_body, ocpi  # noqa: F401 - fixtures used here
from tests.billing.factories import a_driver, a_partner, a_plan, an_invoice
from tests.fuzzing import fuzz_settings
from tests.roaming.conftest import OcpiTestClient

#: Examples per operation and mode (valid, invalid), against the fuzz profile's count per OCPI endpoint (5 in `make
#: test`: 8 here, enough to try parameters' edges and some invalid input, few enough that the whole schema runs in
#: well under a minute on SQLite; `make test-slow` runs 240).
EXAMPLES_SCALE = 1.6


@pytest.fixture
def connector(live_server: Any, ocpi: OcpiTestClient, held_tariff: dict[str, Any]) -> Connector:  # noqa: F811
    """A connector with a tariff we hold, so that a price can be given (AC, T12)."""
    body = copy.deepcopy(location_body())
    body["evses"][0]["connectors"][0]["tariff_ids"] = ["T12"]
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", body).status_code == 1000
    return Connector.objects.select_related("evse").get(evse__uid="3256", ocpi_id="1")


@pytest.fixture
def authorization(live_server: Any, transactional_db: None, connector: Connector) -> str:
    """A driver with something in every corner of the API (plans, a mandate, invoices, a charger with a price),
    signed in as the app is."""
    driver = a_driver("Ann Smit")
    a_plan("Flex", markup_percent=Decimal("15"), session_fee=Decimal("0.35"), is_default=True)
    plus = a_plan("Plus", basis=RetailPlan.Basis.OWN_PRICES, monthly_fee=Decimal("4.95"))
    PlanPriceRule.objects.create(plan=plus, partner=a_partner(), power_class="AC", price_per_kwh=Decimal("0.39"))
    mandate_create(driver=driver, iban="NL91ABNA0417164300", debtor_name="Ann Smit", signed_on=billing_today())
    an_invoice(driver, "121.00", due_date=billing_today() - timedelta(days=3))
    driver_balances_refresh(driver_ids=[driver.pk])
    return f"Bearer {RefreshToken.for_user(driver.user).access_token}"


@schemathesis.check
def api_error_body(ctx: Any, response: schemathesis.Response, case: Case) -> bool | None:
    """Every error is the API's one error body (api/errors.py), whatever the schema says of it."""
    if response.status_code < 400:
        return None
    error = json.loads(response.content)["error"]
    assert isinstance(error, dict), response.text
    for key in ("type", "code", "message"):
        assert isinstance(error[key], str), (key, response.text)
        assert error[key], (key, response.text)
    return True


def _routed_operations() -> set[tuple[str, str]]:
    """(METHOD, path) of every operation api/urls.py routes, the schema and its documentation pages aside."""
    operations = set()
    for pattern in api_urls.urlpatterns:
        if not isinstance(pattern, URLPattern) or pattern.name in ("api-schema", "api-docs", "api-redoc"):
            continue
        path = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        view = pattern.callback.view_class  # type: ignore[attr-defined]
        operations |= {(m.upper(), path) for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
    return operations


#: What is asserted of every response: no 5xx, the API's error body for every error, a documented status, and the
#: body, content type and headers the schema gives for it.
_CHECKS = [
    not_a_server_error,
    api_error_body,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


# Each operation is driven with @given here rather than by `schema.parametrize()`: schemathesis' pytest
# integration renames the test's node through `Node._nodeid`, which pytest 9.2 no longer has.
def test_the_api_keeps_to_its_schema(live_server: Any, authorization: str, connector: Connector) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/?format=json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert {(o.method.upper(), o.path) for o in operations} == _routed_operations(), "every operation is fuzzed"
    headers = {"Authorization": authorization}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @fuzz_settings(scale=EXAMPLES_SCALE)
            def call(case: Case) -> None:
                case.call_and_validate(headers=headers, checks=_CHECKS)

            call()

    # The answers generation hardly reaches by chance: a price for a connector that has one.
    price = schema["/api/v1/price"]["GET"]
    for query in (
        {"connector": connector.pk, "energy_kwh": "20", "minutes": 60, "parking_minutes": 30},
        {"location": connector.evse.location_id, "evse_uid": "3256", "connector_id": "1"},
    ):
        reply = price.Case(query=query).call_and_validate(headers=headers, checks=_CHECKS)
        assert reply.status_code == 200, reply.text
