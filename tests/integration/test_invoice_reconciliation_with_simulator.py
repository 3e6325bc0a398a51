"""Invoice reconciliation (OCPI 2.3.0) against a real CPO implementation over HTTP: the simulator, speaking 2.2.1
with us and listing 2.3.0 too, invoices two months of CDRs it sent us and tells us with invoice reconciliation
records; the second invoice has the three faults finance must see (a CDR we never received, a CDR left out, a
CDR already invoiced). The other way round (reverse billing), we invoice it a credit and it receives our record.

Registration on 2.2.1 records the simulator's 2.3.0 invoicereconciliation endpoints too (discovery reads the
2.3.0 details for the modules only 2.3.0 has), so the pull and our pushes find them without help.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.cpo_credits import cpo_credit_invoices_issue
from billing.invoice_reconciliation import cdrs_unnamed, invoice_check
from billing.models import CdrPrice, Dispute
from billing.services import dispute_decide
from cposim import Simulator
from drivers.services import driver_create, token_issue
from roaming.models import Cdr, InvoiceReconciliationRecord, Partner
from roaming.sync_invoices import invoice_records_pull
from roaming.tasks import pull_invoice_records_task
from tests.integration.conftest import SIM_START, simulated_cpo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    # March 2026; agreed on 2.2.1 (the simulator prefers it), 2.3.0 listed too. Parametrized True: it invoices
    # each month by itself when its clock passes the month's end.
    auto = bool(getattr(request, "param", False))
    with simulated_cpo(start_time=SIM_START, also_versions=("2.3.0",), auto_invoicing=auto) as simulator:
        yield simulator


def our_card() -> dict[str, str]:
    """A driver's card of ours, as a CDR names it."""
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    token = token_issue(driver=driver, uid="04A1B2C3")
    return {"country_code": "NL", "party_id": "EMS", "uid": token.uid, "type": "RFID", "contract_id": token.contract_id}


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
    cdr_token = our_card()
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

    # The same records pulled from the simulator's Sender interface, found at registration.
    assert located_partner.version == "2.2.1"
    assert located_partner.endpoint_url("invoicereconciliation", "SENDER") == (
        f"{sim.base_url}/ocpi/2.3.0/invoicereconciliation"
    )
    stored.delete()
    pulled = invoice_records_pull(partner=located_partner)
    assert (pulled.created, pulled.updated) == (2, 0)
    assert invoice_check(partner=located_partner, invoice_id="INV-2026-04").missing == ["CDR-UNSENT-2026-04"]


def test_our_credit_invoice_reaches_the_simulators_receiver(
    emsp: str, located_partner: Partner, sim: Simulator
) -> None:
    """Reverse billing: staff accepted our price below the simulator's for one CDR; our credit invoice's record is
    pushed (through the outbox, after the commit) to the Receiver found at registration, and the simulator has it."""
    assert located_partner.endpoint_url("invoicereconciliation", "RECEIVER")
    location_id = sim.location_ids()[0]
    evse_uid = next(e["uid"] for e in sim.location(location_id)["evses"] if e["status"] == "AVAILABLE")
    [cdr_id] = charge_at(sim, our_card(), [(location_id, evse_uid)])
    cdr = Cdr.objects.get(partner=located_partner, ocpi_id=cdr_id)
    # Our tariff came to a euro less than the CPO's total: a dispute, decided for our price.
    ours = cdr.total_cost_excl_vat - Decimal("1.00")
    CdrPrice.objects.filter(cdr=cdr).update(status=CdrPrice.Status.PRICED, total_excl_vat=ours, currency=cdr.currency)
    dispute = Dispute.objects.create(
        cdr=cdr,
        partner=located_partner,
        currency=cdr.currency,
        amount_at_stake=Decimal("1.00"),
        opened_at=timezone.now(),
    )
    staff = get_user_model().objects.create_superuser("fin", "fin@example.com", "pw")
    dispute_decide(dispute=dispute, outcome=Dispute.Status.OURS_ACCEPTED, user=staff)

    [invoice] = cpo_credit_invoices_issue(partner=located_partner, by=staff)
    assert invoice.total_excl_vat == Decimal("1.00")
    [received] = sim.received_invoice_records()
    assert received["id"] == received["invoice_id"] == invoice.number
    assert (received["country_code"], received["party_id"], received["cdrs"]) == ("NL", "EMS", [cdr_id])
    invoice.record.refresh_from_db()
    assert invoice.record.pushed_version == invoice.record.last_updated


@pytest.mark.parametrize("sim", [True], indirect=True)
def test_the_simulator_invoices_each_month_by_itself_and_our_periodic_pull_catches_up(
    emsp: str, located_partner: Partner, sim: Simulator
) -> None:
    """The simulator's monthly run starts when its clock passes a month's end, and March's record reaches our
    Receiver by itself. What we missed (here: records lost) comes back with the periodic pull
    (`roaming.pull_invoice_records`, on the sync queue) from the Sender found at registration."""
    assert settings.CELERY_TASK_ROUTES["roaming.pull_invoice_records"] == {"queue": "sync"}
    free = [(location_id, sim.location(location_id)["evses"][0]["uid"]) for location_id in sim.location_ids()[:2]]
    march = charge_at(sim, our_card(), free)
    assert sim.invoice_records() == []  # March is not over

    sim.clock.advance(31 * 86_400)  # into April: March is invoiced and pushed
    [record] = sim.invoice_records()
    assert (record["id"], record["cdrs"]) == ("IR-2026-03", march)
    stored = InvoiceReconciliationRecord.objects.get(partner=located_partner)
    assert (stored.ocpi_id, stored.cdr_ids) == ("IR-2026-03", march)
    sim.clock.advance(86_400)
    assert len(sim.invoice_records()) == 1  # April is not over: nothing more

    stored.delete()
    assert pull_invoice_records_task() == {located_partner.pk: "1 created, 0 updated, 0 stale"}
    assert InvoiceReconciliationRecord.objects.get(partner=located_partner).cdr_ids == march
    # The next run asks from the newest record we hold (less the overlap): that record again, written as it was.
    assert pull_invoice_records_task() == {located_partner.pk: "0 created, 1 updated, 0 stale"}
    assert InvoiceReconciliationRecord.objects.get(partner=located_partner).cdr_ids == march
