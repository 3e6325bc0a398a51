"""Staff groups: what each kind of back-office user may do.

- support: read what drivers, roaming and billing hold; block and unblock cards; send commands to CPOs
  (start, stop, unlock, reserve) and charging preferences. No billing actions, no edits of plans or partners.
- finance: read the same; billing actions: invoice runs, credit notes, credit invoices to CPOs, dispute
  decisions, collection (mandates, batches, payments) and the finance exports. No commands, no card changes.
- admins: everything.

Deleting is not among them for what must be kept (OCPI data, the request log, CDRs, invoices): the admin
classes refuse it whatever the permissions say. Created by a migration (`backoffice/migrations`); a
`post_migrate` hook adds the permissions of later migrations (never removes what staff granted by hand).
"""

from __future__ import annotations

from typing import Any

#: Apps whose rows support and finance may read.
READ_APPS = ("drivers", "roaming", "billing")

SUPPORT = "support"
FINANCE = "finance"
ADMINS = "admins"

GRANTS: dict[str, tuple[str, ...]] = {
    SUPPORT: (
        "drivers.block_token",
        "roaming.send_command",
        "roaming.add_chargingpreferencesrequest",
    ),
    FINANCE: (
        "billing.run_invoicing",
        "billing.issue_credit_note",
        "billing.issue_cpo_credit",  # reverse billing: credit invoices to CPOs
        "billing.decide_dispute",
        "billing.export_finance",
        "billing.change_cdrprice",  # price a CDR again
        "billing.add_collectionbatch",
        "billing.add_mandate",
        "billing.change_mandate",  # revoke
        "billing.add_payment",
        "billing.change_payment",  # mark returned
    ),
}


def staff_groups_sync(apps: Any, *, reset: bool = False) -> None:
    """Give each group its permissions (`apps`: the migration's or the live registry). `reset` replaces what
    a group has (the migration that creates them); otherwise only what is missing is added."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    views = permission_model.objects.filter(content_type__app_label__in=READ_APPS, codename__startswith="view_")
    for name in (SUPPORT, FINANCE):
        wanted = list(views)
        for grant in GRANTS[name]:
            app_label, codename = grant.split(".")
            wanted.extend(permission_model.objects.filter(content_type__app_label=app_label, codename=codename))
        _grant(group_model, name, wanted, reset)
    _grant(group_model, ADMINS, list(permission_model.objects.all()), reset)


def _grant(group_model: Any, name: str, permissions: list[Any], reset: bool) -> None:
    group, _ = group_model.objects.get_or_create(name=name)
    if reset:
        group.permissions.set(permissions)
    else:
        group.permissions.add(*permissions)
