"""A driver's whole story through the driver API alone, with the CPO simulator behind it over real HTTP: sign up,
confirm, sign in, order a card, find a charger, see the price, start, follow, stop, see the charge, and, after
the monthly invoice run, the invoice and its PDF. Only the CPO (the simulator) and the month's end (the beat
job's `invoice_run`) act besides the app."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from pypdf import PdfReader
from rest_framework.test import APIClient

from billing.invoicing import invoice_run
from cposim import Simulator
from roaming.models import Evse, Partner
from tests.billing.factories import a_plan

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-and-unusual-passphrase-7"


def _link_token(message: mail.EmailMessage) -> str:
    found = re.search(r"[?&]token=([^&\s]+)", str(message.body))
    assert found, message.body
    return found.group(1)


def _a_charger(sim: Simulator) -> tuple[dict[str, Any], dict[str, Any]]:
    """A location of the simulator with an available EVSE that can be started remotely."""
    for location_id in sim.location_ids():
        location = sim.location(location_id)
        for evse in location["evses"]:
            if evse["status"] == "AVAILABLE" and "REMOTE_START_STOP_CAPABLE" in evse.get("capabilities", []):
                return location, evse
    raise AssertionError("the simulator has no available EVSE to start")


def test_a_drivers_day_through_the_api(cpo: Partner, sim: Simulator) -> None:
    a_plan(is_default=True, markup_percent=Decimal("10"))  # staff offer pay-as-you-go
    app = APIClient()

    # Sign up, confirm the address from the email, sign in.
    signed_up = app.post(
        "/api/v1/account/sign-up",
        {"email": "dana@example.com", "password": PASSWORD, "first_name": "Dana", "last_name": "Driver",
         "country": "NL"},
        format="json",
    )  # fmt: skip
    assert signed_up.status_code == 202, signed_up.json()
    [welcome] = mail.outbox
    assert app.post("/api/v1/account/verify-email", {"token": _link_token(welcome)}, format="json").status_code == 200
    tokens = app.post("/api/v1/auth/login", {"email": "dana@example.com", "password": PASSWORD}, format="json").json()
    app.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    profile = app.patch("/api/v1/me", {"street": "Damrak 1", "postal_code": "1012 LG", "city": "Amsterdam"},
                        format="json")  # fmt: skip
    assert profile.status_code == 200

    # A card for the wallet, and the app token that came with the account.
    ordered = app.post("/api/v1/cards", HTTP_IDEMPOTENCY_KEY="card-1")
    assert ordered.status_code == 201, ordered.json()
    cards = app.get("/api/v1/cards").json()["results"]
    assert {card["type"] for card in cards} == {"APP_USER", "RFID"}

    # Find a charger near where the simulator has one, and look at it.
    location, evse = _a_charger(sim)
    here = {"lat": location["coordinates"]["latitude"], "lon": location["coordinates"]["longitude"]}
    nearby = app.get("/api/v1/chargers/near", {**here, "radius": 2000})
    assert nearby.status_code == 200, nearby.json()
    ours = Evse.objects.select_related("location").get(location__ocpi_id=location["id"], uid=evse["uid"])
    [found] = [item for item in nearby.json()["results"] if item["id"] == ours.location_id]
    assert found["distance_m"] == 0
    detail = app.get(f"/api/v1/chargers/locations/{ours.location_id}").json()
    [shown] = [e for e in detail["evses"] if e["uid"] == evse["uid"]]
    assert shown["status"] == "AVAILABLE"

    # The price before charging.
    connector = shown["connectors"][0]
    price = app.get("/api/v1/price", {"connector": connector["id"], "energy_kwh": "10", "minutes": "60"})
    assert price.status_code == 200, price.json()
    assert Decimal(price.json()["total_incl_vat"]) > 0

    # Start, follow the command and the live session, stop.
    started = app.post("/api/v1/charging/start", {"location_id": ours.location_id, "evse_uid": ours.uid},
                       format="json", HTTP_IDEMPOTENCY_KEY="start-1")  # fmt: skip
    assert started.status_code == 202, started.json()
    sim.flush()
    command = app.get(f"/api/v1/charging/commands/{started.json()['id']}").json()
    assert command["state"] == "accepted", command
    session_url = f"/api/v1/charging/sessions/{command['session_id']}"
    assert app.get(session_url).json()["status"] == "charging"
    sim.advance(1800)
    sim.flush()
    live = app.get(session_url).json()
    assert Decimal(live["energy_kwh"]) > 0
    assert live["cost"] is not None, live
    stopped = app.post(f"{session_url}/stop", HTTP_IDEMPOTENCY_KEY="stop-1")
    assert stopped.status_code == 202, stopped.json()
    sim.flush()
    assert app.get(session_url).json()["status"] == "finished"

    # The CPO's CDR arrived and was priced: the charge as the driver pays it.
    [charge] = app.get("/api/v1/history/charges").json()["results"]
    assert charge["session_id"] == command["session_id"]
    assert Decimal(charge["incl_vat"]) == Decimal(charge["excl_vat"]) + Decimal(charge["vat"])

    # The month ends (the simulator's clock is in March 2026); the beat job invoices it.
    invoice_run(period=date(2026, 3, 1))
    [invoice] = app.get("/api/v1/invoices").json()["results"]
    full = app.get(f"/api/v1/invoices/{invoice['id']}").json()
    assert [line["charge_id"] for line in full["lines"] if line.get("charge_id")] == [charge["id"]]
    assert Decimal(full["total_incl_vat"]) == Decimal(charge["incl_vat"])
    pdf = app.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.getvalue())).pages)
    assert invoice["number"] in text
