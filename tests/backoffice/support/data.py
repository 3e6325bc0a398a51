"""A driver's day as support sees it, written the way production writes it: the CPO authorizes the card, pushes
the session and posts the CDR over OCPI (so the request log has them), billing prices the CDR and charges the
driver under the default plan; a refused authorization of a blocked card; a command; an invoice.
A second driver has a session, CDR and invoice of their own, which Ann's page must not show."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from billing.models import Invoice, InvoiceLine, SessionCharge
from drivers.models import Driver, Token, TokenChange
from drivers.services import token_block, token_issue
from roaming.models import Authorization, Cdr, ChargingSession, Command, Partner, PartnerEndpoint, TokenPushCursor
from tests.billing.conftest import TARIFF, cdr_body, post_cdr, tariff_url
from tests.billing.factories import a_driver, a_plan, an_invoice
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient


@dataclass
class Story:
    partner: Partner
    ann: Driver
    card: Token  # active, pushed to the CPO
    new_card: Token  # issued and blocked after the last push: the CPO does not know it yet
    session: ChargingSession
    allowed: Authorization
    refused: Authorization
    cdr: Cdr
    charge: SessionCharge
    invoice: Invoice
    command: Command
    bob: Driver
    bob_session: ChargingSession
    bob_cdr: Cdr
    bob_invoice: Invoice


def _cdr_token(token: Token) -> dict[str, Any]:
    return {"country_code": "NL", "party_id": "EMS", "uid": token.uid, "type": "RFID", "contract_id": token.contract_id}


def put_session(ocpi: OcpiTestClient, session_id: str, token: Token, reference: str = "") -> ChargingSession:
    body = copy.deepcopy(example("sessions/session_example_2_short_finished.json"))
    body.update(id=session_id, cdr_token=_cdr_token(token), authorization_reference=reference)
    reply = ocpi.put(f"/ocpi/2.2.1/sessions/BE/BEC/{session_id}", body)
    assert reply.status_code == 1000, reply.body
    return ChargingSession.objects.get(ocpi_id=session_id)


def authorize(ocpi: OcpiTestClient, token: Token) -> Authorization:
    reply = ocpi.post(f"/ocpi/2.2.1/tokens/{token.uid}/authorize?type=RFID", {"location_id": "LOC1"})
    assert reply.status_code == 1000, reply.body
    return Authorization.objects.get(reference=reply.data["authorization_reference"])


def post_priced_cdr(ocpi: OcpiTestClient, cdr_id: str, session: ChargingSession, token: Token, total: str) -> Cdr:
    end = timezone.now().replace(microsecond=0)  # the CDR comes after its authorization, as in life
    start = end - timedelta(hours=1)
    body = cdr_body(cdr_id, token_uid=token.uid, total=(total, None), start=f"{start:%Y-%m-%dT%H:%M:%SZ}",
                    end=f"{end:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip
    body.update(session_id=session.ocpi_id, authorization_reference=session.authorization_reference)
    post_cdr(ocpi, body)
    return Cdr.objects.get(ocpi_id=cdr_id)


def build_story(ocpi: OcpiTestClient, partner: Partner) -> Story:
    assert ocpi.put(tariff_url(TARIFF), TARIFF).status_code == 1000
    a_plan("Pay as you go", is_default=True, markup_percent=Decimal("10"))
    PartnerEndpoint.objects.create(
        partner=partner, module="tokens", role="RECEIVER", url="https://cpo.example.com/ocpi/2.2.1/tokens"
    )

    ann = a_driver("Ann Smit")
    card = ann.tokens.get()
    Token.objects.filter(pk=card.pk).update(uid="04AB12CD", visual_number="EMS-0001-7")
    card.refresh_from_db()
    # The CPO has received every change so far; the card issued after that it has not.
    TokenPushCursor.objects.create(
        partner=partner,
        registered_at=partner.registered_at,
        last_change_id=TokenChange.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        last_success_at=timezone.now(),
    )
    new_card = token_block(token=token_issue(driver=ann, uid="04FFEE99"))  # lost at once, say

    allowed = authorize(ocpi, card)
    refused = authorize(ocpi, new_card)  # blocked: refused
    session = put_session(ocpi, "S-ANN-1", card, allowed.reference)
    cdr = post_priced_cdr(ocpi, "CDR-ANN-1", session, card, "4.60")  # our price 4.50 (TARIFF)
    charge = SessionCharge.objects.get(cdr=cdr)
    invoice = an_invoice(ann, "5.45", number="INV-2026-000042")
    SessionCharge.objects.filter(pk=charge.pk).update(invoice=invoice)
    InvoiceLine.objects.create(
        invoice=invoice,
        position=1,
        kind=InvoiceLine.Kind.SESSION,
        description="Charging session S-ANN-1",
        unit_price_excl_vat=charge.amount_excl_vat,
        amount_excl_vat=Decimal("4.95"),
        vat_rate=Decimal("21"),
        charge=charge,
    )
    charge.refresh_from_db()
    command = Command.objects.create(
        partner=partner,
        type=Command.Type.STOP_SESSION,
        token=card,
        session_id="S-ANN-1",
        state=Command.State.DONE,
        response=Command.Response.ACCEPTED,
        result=Command.Result.ACCEPTED,
    )

    bob = a_driver("Bob Jansen")
    bob_card = bob.tokens.get()
    bob_session = put_session(ocpi, "S-BOB-1", bob_card, authorize(ocpi, bob_card).reference)
    bob_cdr = post_priced_cdr(ocpi, "CDR-BOB-1", bob_session, bob_card, "4.50")
    bob_invoice = an_invoice(bob, "9.99", number="INV-2026-000077")
    return Story(
        partner, ann, card, new_card, session, allowed, refused, cdr, charge, invoice, command,
        bob, bob_session, bob_cdr, bob_invoice,
    )  # fmt: skip


@pytest.fixture
def story(ocpi: OcpiTestClient, cpo: tuple[Partner, str]) -> Story:
    return build_story(ocpi, cpo[0])


@pytest.fixture
def staff_client(client: Client, db: None) -> Client:
    user = get_user_model().objects.create_superuser("support", "support@example.com", "pw")
    client.force_login(user)
    return client


def a_staff_user(**fields: Any) -> User:
    return get_user_model().objects.create_user("clerk", "clerk@example.com", "pw", **fields)
