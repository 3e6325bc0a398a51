"""Invoice reconciliation (OCPI 2.3.0) against a real CPO implementation over HTTP: the simulator, speaking 2.2.1
with us, invoices two months of CDRs it sent us and tells us with invoice reconciliation records; the second
invoice has the three faults finance must see (a CDR we never received, a CDR left out, a CDR already invoiced).

Our versions list does not announce 2.3.0 (roaming/ocpi/urls.py UNANNOUNCED_VERSIONS), so the simulator finds our
Receiver at our 2.2.1 details URL with the version swapped; we do not discover a 2.2.1 partner's 2.3.0 Sender
either, so the pull at the end is given its endpoint by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.invoice_reconciliation import cdrs_unnamed, invoice_check
from cposim import Simulator
from drivers.services import driver_create, token_issue
from roaming.models import InvoiceReconciliationRecord, Partner, PartnerEndpoint
from roaming.sync_invoices import invoice_records_pull
from tests.integration.conftest import SIM_START, simulated_cpo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulated_cpo(start_time=SIM_START) as simulator:  # March 2026
        yield simulator


def charge_at(sim: Simulator, cdr_token: dict[str, str], places: list[tuple[str, str]]) -> list[str]:
    ids = []
    for location_id, evse_uid in places:
        session = sim.start_session(location_id, evse_uid, token=cdr_token)
        sim.advance(1800)
        ids.append(sim.stop_session(session["id"])["id"])
    return ids


def test_monthly_invoices_reach_us_and_finance_sees_the_faults(
    emsp: str, located_partner: Partner, sim: Simulator
) -> None:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    token = token_issue(driver=driver, uid="04A1B2C3")
    cdr_token = {"country_code": "NL", "party_id": "EMS", "uid": token.uid, "type": "RFID"}
    cdr_token["contract_id"] = token.contract_id
    free = [
        (location_id, evse["uid"])
        for location_id in sim.location_ids()
        for evse in sim.location(location_id)["evses"]
        if evse["status"] == "AVAILABLE"
    ]
    march = charge_at(sim, cdr_token, free[:3])
    sim.clock.advance(31 * 86_400)  # April
    april = charge_at(sim, cdr_token, free[3:6])
    assert all((sim.cdr_info(cdr_id) or {}).get("posted") for cdr_id in march + april)

    first = sim.run_monthly_invoicing("2026-03")
    assert [call.url for call in first.lookups] == [f"{emsp}/ocpi/versions", f"{emsp}/ocpi/2.3.0"]
    assert first.pushed, first.call
    assert first.call is not None
    assert first.call.http_status == 201
    second = sim.run_monthly_invoicing("2026-04", ["unknown_cdr", "left_out", "double"])
    assert second.pushed, second.call
    assert (second.unknown_cdr, second.left_out, second.double) == ("CDR-UNSENT-2026-04", april[-1], march[-1])

    stored = InvoiceReconciliationRecord.objects.filter(partner=located_partner).order_by("invoice_id")
    assert [(r.ocpi_id, r.invoice_id, r.cdr_ids) for r in stored] == [
        ("IR-2026-03", "INV-2026-03", march),
        ("IR-2026-04", "INV-2026-04", [*april[:2], march[-1], "CDR-UNSENT-2026-04"]),
    ]

    clean = invoice_check(partner=located_partner, invoice_id="INV-2026-03")
    assert (clean.named, clean.missing) == (3, [])
    assert clean.double == {march[-1]: ["INV-2026-03", "INV-2026-04"]}  # named again by April's invoice
    faulty = invoice_check(partner=located_partner, invoice_id="inv-2026-04")  # invoice ids ignore case
    assert faulty.missing == ["CDR-UNSENT-2026-04"]
    assert faulty.double == {march[-1]: ["INV-2026-03", "INV-2026-04"]}
    assert sorted(line.cdr.ocpi_id for line in faulty.cdrs) == sorted([*april[:2], march[-1]])
    [total] = faulty.totals
    assert (total.currency, total.cdrs) == ("EUR", 3)
    after_grace = timezone.now() + timedelta(days=settings.BILLING_INVOICE_GRACE_DAYS + 1)
    assert [cdr.ocpi_id for cdr in cdrs_unnamed(partner=located_partner, now=after_grace)] == [april[-1]]
    assert not cdrs_unnamed(partner=located_partner).exists()  # within the grace period nothing is overdue

    # The same records pulled from the simulator's Sender interface.
    stored.delete()
    PartnerEndpoint.objects.create(
        partner=located_partner,
        module="invoicereconciliation",
        role="SENDER",
        url=f"{sim.base_url}/ocpi/2.3.0/invoicereconciliation",
    )
    pulled = invoice_records_pull(partner=located_partner)
    assert (pulled.created, pulled.updated) == (2, 0)
    assert invoice_check(partner=located_partner, invoice_id="INV-2026-04").missing == ["CDR-UNSENT-2026-04"]
