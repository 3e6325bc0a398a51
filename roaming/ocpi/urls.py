"""OCPI routes. `MODULES` is the single list of what we serve per version: the routes and the version
details endpoint are both generated from it, so a module cannot be routed without being announced.

Trailing slashes are optional everywhere: partners differ, and a redirect would lose a POST body. So is the
slash between a module's URL and the ids after it: some partners append ids to the URL we announce as they are
(`.../2.2.1/locationsNL/CPO/LOC0001`), and every push of theirs failed with a 404.

Ids match any path segment: the base view answers one that cannot be an OCPI id (too long, not printable
ASCII) with a 404 envelope. Every other path under /ocpi/ goes to `UnknownPathView` (last), so no answer
is ever Django's HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, re_path
from django.views import View

from .views.cdrs import CdrsReceiverView
from .views.commands import CommandResultView
from .views.credentials import CredentialsView
from .views.hubclientinfo import HubClientInfoReceiverView
from .views.invoicereconciliation import InvoiceReconciliationPostView, InvoiceReconciliationReceiverView
from .views.locations import LocationsReceiverView
from .views.sessions import SessionsReceiverView
from .views.tariffs import PatchableTariffsReceiverView, TariffsReceiverView
from .views.tokens import TokenAuthorizeView, TokensSenderView
from .views.unknown import UnknownPathView
from .views.versions import VersionDetailsView, VersionsView


@dataclass(frozen=True)
class Module:
    identifier: str
    role: str  # our interface role: SENDER or RECEIVER
    path: str  # below the version URL
    routes: tuple[tuple[str, type[View]], ...]  # (regex below `path`, view)


# Client-owned object URLs: /{country_code}/{party_id}/{object id}[/...]
_PARTY = r"/(?P<country_code>[A-Za-z]{2})/(?P<party_id>[A-Za-z0-9]{3})"
_ID = r"[^/]+"

_MODULES_2_2_1 = [
    Module("credentials", "SENDER", "credentials", (("", CredentialsView),)),
    Module(
        "locations",
        "RECEIVER",
        "locations",
        (
            (
                rf"{_PARTY}/(?P<location_id>{_ID})(?:/(?P<evse_uid>{_ID}))?(?:/(?P<connector_id>{_ID}))?",
                LocationsReceiverView,
            ),
        ),
    ),
    Module("tariffs", "RECEIVER", "tariffs", ((rf"{_PARTY}/(?P<tariff_id>{_ID})", TariffsReceiverView),)),
    Module("sessions", "RECEIVER", "sessions", ((rf"{_PARTY}/(?P<session_id>{_ID})", SessionsReceiverView),)),
    # CDRs are POSTed to the module URL; each is read back at the URL our answer gave (`Location`).
    Module("cdrs", "RECEIVER", "cdrs", (("", CdrsReceiverView), (r"/(?P<cdr_pk>[0-9]{1,18})", CdrsReceiverView))),
    Module(
        "tokens",
        "SENDER",
        "tokens",
        (("", TokensSenderView), (rf"/(?P<token_uid>{_ID})/authorize", TokenAuthorizeView)),
    ),
    # A hub tells us about each party behind it (configuration module: no routing headers).
    Module("hubclientinfo", "RECEIVER", "hubclientinfo", ((_PARTY, HubClientInfoReceiverView),)),
    # Only the per-command response_url is served (the spec's Sender interface); see views/commands.py.
    Module(
        "commands",
        "SENDER",
        "commands",
        ((r"/(?P<command_type>[A-Z_]{1,32})/(?P<reference>[0-9a-fA-F-]{32,36})", CommandResultView),),
    ),
]

# 2.1.1: the same receivers (read and written with the 2.1.1 wire), tariffs with PATCH, no hubclientinfo (2.2 on).
_MODULES_2_1_1 = [
    Module(m.identifier, m.role, m.path, ((m.routes[0][0], PatchableTariffsReceiverView),))
    if m.identifier == "tariffs"
    else m
    for m in _MODULES_2_2_1
    if m.identifier != "hubclientinfo"
]

MODULES: dict[str, list[Module]] = {
    "2.2.1": _MODULES_2_2_1,
    # 2.3.0 serves every 2.2.1 module (same paths and views; the views read with the 2.3.0 wire), and adds:
    "2.3.0": [
        *_MODULES_2_2_1,
        # New records are POSTed to the module URL; each is then PUT, read and DELETEd at its own URL.
        Module(
            "invoicereconciliation",
            "RECEIVER",
            "invoicereconciliation",
            (
                ("", InvoiceReconciliationPostView),
                (rf"{_PARTY}/(?P<record_id>{_ID})", InvoiceReconciliationReceiverView),
            ),
        ),
        # Reverse billing: our records of our invoices to the CPO, listed (GET) at the same URL (routed above).
        Module("invoicereconciliation", "SENDER", "invoicereconciliation", ()),
    ],
    "2.1.1": _MODULES_2_1_1,
}

#: Routed and answering, but not in our versions list. A partner picks the highest version both sides list,
#: so a version listed before our modules speak it would move every partner of that version onto it. Remove a
#: version from here when its module list is complete (2.3.0 is: every 2.2.1 module plus invoicereconciliation).
UNANNOUNCED_VERSIONS: frozenset[str] = frozenset()
VERSIONS = [version for version in MODULES if version not in UNANNOUNCED_VERSIONS]


def _routes() -> list[URLPattern]:
    patterns = [re_path(r"^versions/?$", VersionsView.as_view(), name="ocpi-versions")]
    for version, modules in MODULES.items():
        prefix = version.replace(".", r"\.")
        patterns.append(re_path(rf"^{prefix}/?$", VersionDetailsView.as_view(version=version), name=f"ocpi-{version}"))
        for module in modules:
            for suffix, view in module.routes:
                below = "/?" + suffix[1:] if suffix.startswith("/") else suffix  # the slash after the module's URL
                patterns.append(
                    re_path(
                        rf"^{prefix}/{module.path}{below}/?$",
                        view.as_view(version=version),
                        name=f"ocpi-{version}-{module.identifier}{suffix and '-detail'}",
                    )
                )
    patterns.append(re_path(r"", UnknownPathView.as_view(), name="ocpi-unknown-path"))
    return patterns


urlpatterns = _routes()
