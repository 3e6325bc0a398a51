"""Safety of the back office: the staff groups the migration made (support, finance, admins) and what each may
do, nothing that must be kept can be deleted or edited, derived figures are read-only, and the audit history
records who changed partners, cards, drivers, plans and disputes."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission, User
from django.test import Client, RequestFactory
from django.utils import timezone

from billing.balances import driver_balances_refresh
from billing.invoicing import billing_zone, previous_period
from billing.models import Dispute, InvoiceRun, RetailPlan
from drivers.models import Driver, Token
from roaming.models import Cdr, Partner
from tests.billing.factories import a_cdr, a_driver, a_partner, a_plan

pytestmark = pytest.mark.django_db

#: What partners sent us, our records of the exchanges, CDRs and issued invoices: read, never edited.
KEPT_AS_IS = {
    "roaming.location",
    "roaming.evse",
    "roaming.tariff",
    "roaming.tariffelement",
    "roaming.chargingsession",
    "roaming.cdr",
    "roaming.authorization",
    "roaming.command",
    "roaming.ocpirequestlog",
    "roaming.syncrun",
    "roaming.tokenpushcursor",
    "drivers.tokenchange",
    "billing.invoice",
    "billing.invoicerun",
    "billing.cdrprice",
    "billing.sessioncharge",
    "billing.collectionbatch",
    "billing.reminder",
    "emsp.outboxtask",
}


def staff_in(group: str) -> User:
    user = get_user_model().objects.create_user(f"{group}-user", f"{group}@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def as_staff(client: Client) -> Callable[[str], Client]:
    """A client signed in as a new member of the group."""

    def sign_in(group: str) -> Client:
        client.force_login(staff_in(group))
        return client

    return sign_in


def _has(group: str, permission: str) -> bool:
    app_label, codename = permission.split(".")
    return Group.objects.filter(
        name=group, permissions__content_type__app_label=app_label, permissions__codename=codename
    ).exists()


def a_dispute(partner: Partner, cdr: Cdr) -> Dispute:
    return Dispute.objects.create(
        cdr=cdr, partner=partner, currency="EUR", amount_at_stake=Decimal("1.50"), opened_at=timezone.now()
    )


# --- the groups ---------------------------------------------------------------------------------------------


def test_the_migration_made_three_groups_with_their_permissions() -> None:
    for permission in ("drivers.block_token", "roaming.send_command", "roaming.view_cdr", "billing.view_invoice"):
        assert _has("support", permission), permission
    for permission in ("billing.run_invoicing", "billing.change_retailplan", "billing.decide_dispute"):
        assert not _has("support", permission), permission
    for permission in (
        "billing.run_invoicing",
        "billing.issue_credit_note",
        "billing.decide_dispute",
        "billing.export_finance",
        "billing.add_collectionbatch",
        "roaming.view_ocpirequestlog",
    ):
        assert _has("finance", permission), permission
    for permission in ("roaming.send_command", "drivers.block_token", "billing.change_retailplan"):
        assert not _has("finance", permission), permission
    assert Group.objects.get(name="admins").permissions.count() == Permission.objects.count()


def test_support_blocks_a_card_but_cannot_run_invoicing_edit_a_plan_or_export(
    as_staff: Callable[[str], Client],
) -> None:
    card = a_driver().tokens.get()
    plan = a_plan(markup_percent=Decimal("10"))
    client = as_staff("support")

    reply = client.post("/admin/drivers/token/", {"action": "block", "_selected_action": [card.pk]})
    assert reply.status_code == 302
    card.refresh_from_db()
    assert card.status == Token.Status.BLOCKED

    assert client.get("/admin/billing/invoicerun/start/").status_code == 403
    assert client.post("/admin/billing/invoicerun/start/", {"period": "2026-01"}).status_code == 403
    assert not InvoiceRun.objects.exists()
    page = client.get(f"/admin/billing/retailplan/{plan.pk}/change/")
    assert page.status_code == 200  # to read
    assert 'name="_save"' not in page.content.decode()
    reply = client.post(f"/admin/billing/retailplan/{plan.pk}/change/", {"name": "Cheaper", "markup_percent": "0"})
    assert reply.status_code == 403
    assert RetailPlan.objects.get().markup_percent == Decimal("10")
    assert client.get("/admin/billing/payment/export/", {"kind": "invoices", "period": "2026-01"}).status_code == 403


def test_finance_runs_invoicing_settles_a_dispute_and_exports_but_sends_no_commands(
    as_staff: Callable[[str], Client],
) -> None:
    partner, driver = a_partner(), a_driver()
    dispute = a_dispute(partner, a_cdr(partner, driver))
    card = driver.tokens.get()
    client = as_staff("finance")
    finance = User.objects.get(username="finance-user")

    period = previous_period(timezone.now().astimezone(billing_zone()).date())
    reply = client.post("/admin/billing/invoicerun/start/", {"period": f"{period:%Y-%m}"})
    assert reply.status_code == 302
    assert InvoiceRun.objects.get().started_by == finance

    reply = client.post(f"/admin/billing/dispute/{dispute.pk}/decide/", {"outcome": "CPO_ACCEPTED", "note": "fine"})
    assert reply.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decided_by) == ("CPO_ACCEPTED", finance)
    assert dispute.history.latest().history_user == finance

    export = client.get("/admin/billing/payment/export/", {"kind": "invoices", "period": f"{period:%Y-%m}"})
    assert export.status_code == 200

    assert client.get("/admin/roaming/command/start/").status_code == 403
    assert client.post("/admin/roaming/command/stop/1/").status_code == 403
    assert client.post("/admin/roaming/command/unlock/", {"evse": "1", "connector_id": "1"}).status_code == 403
    assert "Start a session" not in client.get("/admin/roaming/command/").content.decode()
    client.post("/admin/drivers/token/", {"action": "block", "_selected_action": [card.pk]})
    card.refresh_from_db()
    assert card.status == Token.Status.ACTIVE


@pytest.mark.parametrize("group", ["support", "finance", "admins", None])
def test_nobody_deletes_a_cdr(client: Client, group: str | None) -> None:
    cdr = a_cdr(a_partner(), a_driver())
    if group is None:
        client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    else:
        client.force_login(staff_in(group))
    assert client.get(f"/admin/roaming/cdr/{cdr.pk}/delete/").status_code == 403
    assert client.post(f"/admin/roaming/cdr/{cdr.pk}/delete/", {"post": "yes"}).status_code == 403
    reply = client.post(
        "/admin/roaming/cdr/", {"action": "delete_selected", "_selected_action": [cdr.pk], "post": "yes"}
    )
    assert reply.status_code in (200, 302)
    assert Cdr.objects.filter(pk=cdr.pk).exists()


# --- nothing that must be kept is deleted or edited ----------------------------------------------------------


def test_no_admin_of_ours_deletes_and_what_must_be_kept_is_not_edited() -> None:
    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    ours = {
        f"{model._meta.app_label}.{model._meta.model_name}": model_admin
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in ("emsp", "drivers", "roaming", "billing")
    }
    assert set(ours) >= KEPT_AS_IS
    deletable = [name for name, model_admin in ours.items() if model_admin.has_delete_permission(request)]
    assert deletable == []
    editable = [name for name in KEPT_AS_IS if ours[name].has_change_permission(request)]
    assert editable == []
    for name in ("roaming.partner", "drivers.driver", "drivers.token", "roaming.ocpirequestlog"):
        assert "delete_selected" not in ours[name].get_actions(request), name


def test_a_partner_is_unregistered_a_card_blocked_and_a_driver_erased_instead(client: Client) -> None:
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    partner, driver = a_partner(), a_driver()
    actions = client.get("/admin/roaming/partner/").content.decode()
    assert 'value="unregister"' in actions
    assert 'value="delete_selected"' not in actions
    assert 'value="block"' in client.get("/admin/drivers/token/").content.decode()
    assert client.get(f"/admin/roaming/partner/{partner.pk}/delete/").status_code == 403
    assert client.get(f"/admin/drivers/driver/{driver.pk}/delete/").status_code == 403

    reply = client.post("/admin/drivers/driver/", {"action": "erase", "_selected_action": [driver.pk]})
    assert reply.status_code == 302
    driver.refresh_from_db()
    assert driver.erased_at is not None
    assert driver.tokens.get().status == Token.Status.BLOCKED


def test_the_balance_is_read_only(client: Client) -> None:
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    driver = a_driver()
    page = client.get(f"/admin/drivers/driver/{driver.pk}/change/").content.decode()
    assert 'name="outstanding"' not in page
    assert 'name="uninvoiced"' not in page
    assert "Issued invoices minus payments." in page  # shown, as text


# --- audit history --------------------------------------------------------------------------------------------


def test_changes_through_the_admin_record_who_made_them(as_staff: Callable[[str], Client]) -> None:
    partner, plan = a_partner("CPO One"), a_plan(markup_percent=Decimal("10"))
    card = a_driver().tokens.get()
    client = as_staff("admins")
    boss = User.objects.get(username="admins-user")

    reply = client.post(
        f"/admin/roaming/partner/{partner.pk}/change/",
        {
            "name": "CPO One (Benelux)",
            "token_base64": "on",
            **_empty_inline("roles"),
            **_empty_inline("endpoints"),
        },
    )
    assert reply.status_code == 302, reply.content.decode()[:3000]
    change = Partner.history.latest()
    assert (change.name, change.history_user, change.history_type) == ("CPO One (Benelux)", boss, "~")
    assert "CPO One (Benelux)" in client.get(f"/admin/roaming/partner/{partner.pk}/history/").content.decode()

    data = {f.name: getattr(plan, f.name) for f in RetailPlan._meta.fields if f.editable and f.name != "id"}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    reply = client.post(
        f"/admin/billing/retailplan/{plan.pk}/change/",
        {**data, "markup_percent": "12.5", **_empty_inline("price_rules")},
    )
    assert reply.status_code == 302, reply.content.decode()[:3000]
    change = RetailPlan.history.latest()
    assert (change.markup_percent, change.history_user) == (Decimal("12.5"), boss)

    client.post("/admin/drivers/token/", {"action": "block", "_selected_action": [card.pk]})
    change = Token.history.latest()
    assert (change.status, change.history_user) == ("blocked", boss)


def _empty_inline(prefix: str) -> dict[str, str]:
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def test_the_derived_balance_stays_out_of_the_history_and_its_bulk_refresh_writes_none() -> None:
    historical = Driver.history.model
    assert not {"outstanding", "uninvoiced"} & {f.name for f in historical._meta.fields}
    driver = a_driver()
    before = Driver.history.count()
    assert driver_balances_refresh(driver_ids=[driver.pk]) == 1
    assert Driver.history.count() == before


def test_erasing_a_driver_also_erases_the_address_from_the_history() -> None:
    from drivers.accounts import driver_erase
    from drivers.services import driver_update

    driver = a_driver()
    driver_update(driver=driver, street="Keizersgracht 1", city="Amsterdam")
    assert Driver.history.filter(id=driver.pk, street="Keizersgracht 1").exists()
    driver_erase(driver=driver)
    assert not Driver.history.filter(id=driver.pk).exclude(street="", city="").exists()
    assert Driver.history.filter(id=driver.pk).count() >= 2


def test_a_token_push_or_an_authorization_writes_no_history(client: Client) -> None:
    """The hot paths read tokens; only a change of a card (rare) adds a history row."""
    from drivers.selectors import token_with_verdict

    card = a_driver().tokens.get()
    before = Token.history.count()
    for _ in range(3):
        assert token_with_verdict(card.uid, card.type) is not None
    assert Token.history.count() == before
