"""The back office: disputes side by side, decisions, re-pricing, and the finance CSV (parsed back)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from billing.models import CdrPrice, Dispute
from billing.selectors import CSV_COLUMNS, cdr_price_rows
from roaming.models import Partner
from tests.billing.conftest import cdr_body, post_cdr
from tests.roaming.conftest import OcpiTestClient

pytestmark = pytest.mark.usefixtures("held_tariff")


@pytest.fixture
def disputed(ocpi: OcpiTestClient) -> Dispute:
    """Three CDRs of November: one right, one overbilled by 1.50 on energy, and a December one."""
    post_cdr(ocpi, cdr_body("OK-1"))
    post_cdr(ocpi, cdr_body("BAD-1", total=("6.00", "6.60"), costs={"energy": ("4.00", None)}))
    post_cdr(ocpi, cdr_body("DEC-1", start="2026-12-01T10:00:00Z", end="2026-12-01T11:00:00Z"))
    return Dispute.objects.get()


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


def test_the_changelist_shows_the_open_amount_per_partner(staff_client: Client, disputed: Dispute) -> None:
    page = staff_client.get(reverse("admin:billing_dispute_changelist"))
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="open-by-partner"' in text
    assert "Example CPO" in text
    assert "1.50 EUR" in text
    filtered = staff_client.get(
        reverse("admin:billing_dispute_changelist"), {"month": "2026-11", "status__exact": "OPEN"}
    )
    assert filtered.status_code == 200
    assert "BE/BEC/BAD-1" in filtered.content.decode()
    assert (
        "BE/BEC/BAD-1"
        not in staff_client.get(reverse("admin:billing_dispute_changelist"), {"month": "2026-12"}).content.decode()
    )


def test_the_dispute_page_shows_both_figures_side_by_side_and_our_breakdown(
    staff_client: Client, disputed: Dispute
) -> None:
    page = staff_client.get(reverse("admin:billing_dispute_change", args=[disputed.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "<tr><th>total</th><td>6</td><td>4.5</td><td>1.5</td></tr>" in text
    assert "<tr><th>energy</th><td>4</td><td>2.5</td><td>1.5</td></tr>" in text
    assert "<tr><th>time</th><td>-</td><td>2</td><td>-</td></tr>" in text
    assert 'class="breakdown"' in text
    assert "<td>VOLUME</td><td>T12</td><td>1</td><td>ENERGY</td><td>1</td>" in text
    assert 'id="decision"' in text


def test_deciding_from_the_dispute_page_records_who(staff_client: Client, staff: User, disputed: Dispute) -> None:
    url = reverse("admin:billing_dispute_decide", args=[disputed.pk])
    reply = staff_client.post(url, {"outcome": "OURS_ACCEPTED", "note": "energy is 0.25/kWh"})
    assert reply.status_code == 302
    disputed.refresh_from_db()
    assert (disputed.status, disputed.decided_by, disputed.note) == ("OURS_ACCEPTED", staff, "energy is 0.25/kWh")

    staff_client.post(url, {"outcome": "RESOLVED", "note": ""})  # refused: resolving needs a note
    disputed.refresh_from_db()
    assert disputed.status == "OURS_ACCEPTED"


def test_the_changelist_actions_decide(staff_client: Client, disputed: Dispute) -> None:
    reply = staff_client.post(
        reverse("admin:billing_dispute_changelist"), {"action": "accept_cpo", "_selected_action": [disputed.pk]}
    )
    assert reply.status_code == 302
    disputed.refresh_from_db()
    assert disputed.status == "CPO_ACCEPTED"


def test_deciding_needs_the_change_permission(client: Client, disputed: Dispute) -> None:
    viewer = get_user_model().objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_dispute"))
    client.force_login(viewer)
    page = client.get(reverse("admin:billing_dispute_change", args=[disputed.pk]))
    assert page.status_code == 200
    assert 'id="decision"' not in page.content.decode()
    reply = client.post(reverse("admin:billing_dispute_decide", args=[disputed.pk]), {"outcome": "CPO_ACCEPTED"})
    assert reply.status_code == 403
    disputed.refresh_from_db()
    assert disputed.status == "OPEN"


def test_the_price_pages_render_and_price_again(staff_client: Client, disputed: Dispute) -> None:
    assert (
        staff_client.get(reverse("admin:billing_cdrprice_changelist"), {"status__exact": "PRICED"}).status_code == 200
    )
    price = CdrPrice.objects.get(cdr=disputed.cdr)
    page = staff_client.get(reverse("admin:billing_cdrprice_change", args=[price.pk]))
    assert page.status_code == 200
    assert "<tr><th>total</th><td>6</td><td>4.5</td><td>1.5</td></tr>" in page.content.decode()

    CdrPrice.objects.filter(pk=price.pk).update(total_excl_vat=Decimal(0))
    reply = staff_client.post(
        reverse("admin:billing_cdrprice_changelist"), {"action": "price_again", "_selected_action": [price.pk]}
    )
    assert reply.status_code == 302
    assert CdrPrice.objects.get(pk=price.pk).total_excl_vat == Decimal("4.50")


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_month_export_has_both_prices(disputed: Dispute) -> None:
    partner = disputed.partner
    rows = list(cdr_price_rows(partner, 2026, 11))
    assert [r["cdr_id"] for r in rows] == ["OK-1", "BAD-1"]
    bad = rows[1]
    assert (Decimal(bad["cpo_total_excl_vat"]), Decimal(bad["cpo_total_incl_vat"])) == (Decimal(6), Decimal("6.6"))
    assert (Decimal(bad["our_total_excl_vat"]), Decimal(bad["our_total_incl_vat"])) == (Decimal("4.5"), Decimal("4.95"))
    assert Decimal(bad["difference_excl_vat"]) == Decimal("1.5")
    assert (bad["price_status"], bad["dispute_status"]) == ("PRICED", "OPEN")
    assert (Decimal(bad["our_energy_excl_vat"]), Decimal(bad["our_time_excl_vat"])) == (Decimal("2.5"), Decimal(2))
    assert (rows[0]["dispute_status"], Decimal(rows[0]["difference_excl_vat"])) == ("", Decimal(0))


def test_the_admin_streams_the_csv(staff_client: Client, disputed: Dispute) -> None:
    reply = staff_client.get(
        reverse("admin:billing_dispute_export"), {"partner": str(disputed.partner_id), "month": "2026-11"}
    )
    assert reply.status_code == 200
    assert reply["Content-Type"] == "text/csv"
    text = b"".join(reply.streaming_content).decode()  # type: ignore[attr-defined]
    rows = _parse(text)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["cdr_id"], r["dispute_status"]) for r in rows] == [("OK-1", ""), ("BAD-1", "OPEN")]


def test_the_export_command_writes_the_same_csv(disputed: Dispute, tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("billing_export", "--partner", str(disputed.partner_id), "--month", "2026-12", stdout=out)
    assert [r["cdr_id"] for r in _parse(out.getvalue())] == ["DEC-1"]
    target = tmp_path / "nov.csv"
    call_command("billing_export", "--partner", str(disputed.partner_id), "--month", "2026-11", "-o", str(target))
    assert [r["cdr_id"] for r in _parse(target.read_text())] == ["OK-1", "BAD-1"]


def test_the_export_command_refuses_a_bad_month(db: Any) -> None:
    from django.core.management.base import CommandError

    partner = Partner.objects.create(name="X", versions_url="https://x.example.com/versions")
    with pytest.raises(CommandError, match="not a month"):
        call_command("billing_export", "--partner", str(partner.pk), "--month", "2026-13")
