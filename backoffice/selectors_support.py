"""What support sees of one driver on one page: "why did my charge fail, and what did it cost?".

Every list is the newest few rows by an index that starts with the driver (or their cards), with a link to the
whole filtered list in the admin, so the page costs the same number of queries for a driver with ten sessions as
for one with ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import reduce
from operator import or_
from typing import TypeVar

from django.db.models import Exists, Model, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Upper

from billing.models import CdrPrice, Invoice, Mandate, PlanSubscription, RetailPlan, SessionCharge
from billing.selectors import Balance, driver_balance, mandate_active, plan_spell_in_force
from drivers.models import Driver, Token
from drivers.selectors import Verdict, tokens_with_verdict, uid_key, verdict
from roaming.models import Authorization, Cdr, ChargingSession, Command, OcpiRequestLog
from roaming.selectors_requestlog import (
    authorization_log_q,
    cdr_log_q,
    command_log_q,
    request_log_matching,
    session_log_q,
)
from roaming.selectors_tokens import TokenAtCpo, tokens_at_cpos

SESSIONS_SHOWN = 20
AUTHORIZATIONS_SHOWN = 20
COMMANDS_SHOWN = 10
CDRS_SHOWN = 20
INVOICES_SHOWN = 12
REQUEST_LOG_SHOWN = 50
SEARCH_RESULTS_SHOWN = 50

M = TypeVar("M", bound=Model)


# --- finding the driver --------------------------------------------------------------------------------------


def drivers_search(query: str, *, limit: int = SEARCH_RESULTS_SHOWN) -> list[Driver]:
    """Drivers matching every word of `query` in their name, email or username, or a card's uid (any case),
    visual number or contract id (eMAID). What a driver on the phone can tell: "Ann Smit", "ann@example.com",
    the number printed on the card, the uid a CPO's log shows."""
    words = query.split()
    if not words:
        return []
    drivers = Driver.objects.select_related("user").prefetch_related("tokens")
    for word in words:
        card = Token.objects.alias(uid_key=Upper("uid")).filter(
            Q(uid_key=uid_key(word)) | Q(visual_number__icontains=word) | Q(contract_id__icontains=word),
            driver=OuterRef("pk"),
        )
        drivers = drivers.filter(
            Q(user__first_name__icontains=word)
            | Q(user__last_name__icontains=word)
            | Q(user__email__icontains=word)
            | Q(user__username__iexact=word)
            | Exists(card)
        )
    return list(drivers.order_by("user__last_name", "user__first_name", "pk")[:limit])


# --- the page's rows -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardRow:
    token: Token
    may_charge: Verdict  # the charging rule now: what a CPO asking us in real time would hear
    at_cpos: list[TokenAtCpo]


@dataclass(frozen=True)
class SessionRow:
    session: ChargingSession
    authorization: Authorization | None
    cdrs: list[Cdr]

    @property
    def reason(self) -> str:
        return authorization_reason(self.authorization)


@dataclass(frozen=True)
class AuthorizationRow:
    authorization: Authorization
    session: ChargingSession | None

    @property
    def reason(self) -> str:
        """Why it was refused (or allowed), in words, where the authorization keeps a reason."""
        return authorization_reason(self.authorization)


def authorization_reason(authorization: Authorization | None) -> str:
    """The authorization's reason in words; empty for one decided before reasons were kept."""
    if authorization is None or not authorization.reason:
        return ""
    return str(authorization.get_reason_display())


@dataclass(frozen=True)
class CdrRow:
    """A CDR with the CPO's price (its total_cost), ours (CdrPrice: what the CPO should charge by the tariff)
    and the driver's (SessionCharge: what we charge under their plan), all excl. VAT, in the CDR's currency."""

    cdr: Cdr
    price: CdrPrice | None
    charge: SessionCharge | None

    @property
    def difference(self) -> Decimal | None:
        """The CPO's price minus ours: what we would overpay (a dispute opens past the tolerance)."""
        if self.price is None or self.price.total_excl_vat is None:
            return None
        return self.cdr.total_cost_excl_vat - self.price.total_excl_vat

    @property
    def charge_incl_vat(self) -> Decimal | None:
        if self.charge is None:
            return None
        factor = (Decimal(100) + self.charge.vat_rate) / Decimal(100)
        return (self.charge.amount_excl_vat * factor).quantize(Decimal("0.01"), ROUND_HALF_UP)

    @property
    def invoice(self) -> Invoice | None:
        return self.charge.invoice if self.charge is not None else None


@dataclass(frozen=True)
class DriverSupport:
    driver: Driver
    balance: Balance
    plan: RetailPlan | None
    plan_spell: PlanSubscription | None  # None: on the default plan
    mandate: Mandate | None
    cards: list[CardRow]
    sessions: list[SessionRow]
    authorizations: list[AuthorizationRow]
    commands: list[Command]
    cdrs: list[CdrRow]
    invoices: list[Invoice]
    request_log: list[OcpiRequestLog] = field(default_factory=list)


def _newest(queryset: QuerySet[M], order: str, limit: int) -> list[M]:
    return list(queryset.order_by(f"-{order}", "-pk")[:limit])


def driver_support(driver: Driver) -> DriverSupport:
    """Everything support looks at for one driver, newest first and bounded; a fixed number of queries."""
    cards = list(tokens_with_verdict().filter(driver=driver).order_by("pk"))
    card_ids = [card.pk for card in cards]
    at_cpos = tokens_at_cpos(card_ids)

    cdr_rows = Cdr.objects.only(
        "pk", "session_id", "country_code", "party_id", "ocpi_id", "credit", "total_cost_excl_vat", "currency"
    )
    sessions = _newest(
        ChargingSession.objects.filter(driver=driver)
        .select_related("location", "partner", "token")
        .prefetch_related(Prefetch("cdrs", queryset=cdr_rows.order_by("pk"))),
        "start_date_time",
        SESSIONS_SHOWN,
    )
    authorizations = _newest(
        Authorization.objects.filter(token_id__in=card_ids).select_related("partner", "token"),
        "created_at",
        AUTHORIZATIONS_SHOWN,
    )
    # The authorizations the sessions echo, and the sessions the authorizations started: two look-ups by the
    # reference (unique on authorizations, indexed on sessions).
    known = {a.reference: a for a in authorizations}
    wanted = [s.authorization_reference for s in sessions if s.authorization_reference not in known]
    if wanted := [reference for reference in wanted if reference]:
        known.update(
            (a.reference, a)
            for a in Authorization.objects.filter(reference__in=wanted).select_related("partner", "token")
        )
    started = {s.authorization_reference: s for s in sessions if s.authorization_reference}
    missing = [a.reference for a in authorizations if a.reference not in started]
    if missing:
        started.update(
            (s.authorization_reference, s)
            for s in ChargingSession.objects.filter(authorization_reference__in=missing).only(
                "pk", "country_code", "party_id", "ocpi_id", "status", "authorization_reference"
            )
        )

    commands = _newest(
        Command.objects.filter(token_id__in=card_ids).select_related("partner", "token"), "created_at", COMMANDS_SHOWN
    )
    cdrs = _newest(
        Cdr.objects.filter(driver=driver).select_related(
            "partner", "session", "price", "charge__invoice", "charge__plan"
        ),
        "start_date_time",
        CDRS_SHOWN,
    )
    invoices = _newest(Invoice.objects.filter(driver=driver), "issued_at", INVOICES_SHOWN)

    spell = plan_spell_in_force(driver=driver)
    return DriverSupport(
        driver=driver,
        balance=driver_balance(driver=driver),
        plan=spell.plan if spell else RetailPlan.objects.filter(is_default=True).first(),  # as plan_in_force
        plan_spell=spell,
        mandate=mandate_active(driver=driver),
        cards=[CardRow(card, verdict(card.refusal), at_cpos[card.pk]) for card in cards],  # type: ignore[attr-defined]
        sessions=[
            SessionRow(s, known.get(s.authorization_reference) if s.authorization_reference else None, [*s.cdrs.all()])
            for s in sessions
        ],
        authorizations=[AuthorizationRow(a, started.get(a.reference)) for a in authorizations],
        commands=commands,
        # A missing reverse one-to-one raises an AttributeError (RelatedObjectDoesNotExist): none yet.
        cdrs=[CdrRow(c, getattr(c, "price", None), getattr(c, "charge", None)) for c in cdrs],
        invoices=invoices,
        request_log=driver_request_log(sessions, list(known.values()), commands, cdrs),
    )


def driver_request_log(
    sessions: list[ChargingSession],
    authorizations: list[Authorization],
    commands: list[Command],
    cdrs: list[Cdr],
    *,
    limit: int = REQUEST_LOG_SHOWN,
) -> list[OcpiRequestLog]:
    """The request-log entries about the sessions, authorizations, commands and CDRs shown: one query, each
    object's entries found within its own time window (roaming.selectors_requestlog)."""
    conditions = [
        *(session_log_q(s) for s in sessions),
        *(authorization_log_q(a) for a in authorizations),
        *(command_log_q(c) for c in commands),
        *(cdr_log_q(c) for c in cdrs),
    ]
    if not conditions:
        return []
    return request_log_matching(reduce(or_, conditions), limit=limit)
