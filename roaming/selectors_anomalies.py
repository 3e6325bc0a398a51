"""Anomalies staff should look at: sessions and CDRs that a driver, a charger or a CPO got wrong.

Each rule is one condition (a `Q`) on sessions or on CDRs, so the same expression is an admin list filter
(`roaming/admin/anomalies.py`) and a count (`anomalies_count`, for the back office's start page). The rules only
flag: none of them changes what real-time authorization decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from roaming.models import Cdr, ChargingSession, Connector, SessionStatus

# A session this long is stuck (the CPO never sent its end) or a car left at a charger for a day.
LONG_SESSION = timedelta(hours=24)
# A meter may read a little above the connector's rated power, and CPOs round total_time (to 4 decimals of an
# hour, 0.36 s): up to 1 % more energy than power x time is not flagged.
ENERGY_TOLERANCE = Decimal("1.01")
# More flagged CDRs than this are not counted (see cdr_energy_beyond_power).
FLAGGED_AT_MOST = 1_000_000


def card_in_several_sessions() -> Q:
    """Active sessions of a card that has another active session: a card charges in one place at a time, so
    one of them is a cloned or shared card, or a session the CPO never ended."""
    others = ChargingSession.objects.filter(token=OuterRef("token"), status=SessionStatus.ACTIVE).exclude(
        pk=OuterRef("pk")
    )
    return Q(status=SessionStatus.ACTIVE, token__isnull=False) & Q(Exists(others))


def session_active_too_long() -> Q:
    """Sessions still active LONG_SESSION after they started."""
    return Q(status=SessionStatus.ACTIVE, start_date_time__lt=timezone.now() - LONG_SESSION)


def connector_watts() -> Case | Coalesce:
    """A connector's power in W: `max_electric_power`, else voltage x amperage x phases (OCPI gives the voltage
    line to neutral)."""
    phases = Case(
        When(power_type="AC_3_PHASE", then=Value(3)),
        When(power_type__in=("AC_2_PHASE", "AC_2_PHASE_SPLIT"), then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return Coalesce("max_electric_power", F("max_voltage") * F("max_amperage") * phases)


def cdr_energy_beyond_power() -> Q:
    """CDRs with more energy (kWh) than their connector's power allows in their total time (hours): a wrong
    meter reading, a wrong connector, or a CPO billing more than was delivered. The connector is the one the
    CDR names at its location; a CDR whose location or connector we do not hold is not judged."""
    weaker = (
        Connector.objects.filter(
            evse__location=OuterRef("location"),
            evse__uid=Cast(KeyTextTransform("evse_uid", OuterRef("cdr_location")), CharField()),
            ocpi_id=Cast(KeyTextTransform("connector_id", OuterRef("cdr_location")), CharField()),
        )
        .annotate(
            allowed_wh=ExpressionWrapper(
                connector_watts() * OuterRef("total_time") * ENERGY_TOLERANCE, output_field=DecimalField()
            )
        )
        .filter(allowed_wh__lt=ExpressionWrapper(OuterRef("total_energy") * 1000, output_field=DecimalField()))
    )
    # The flagged CDRs are found in one pass (on PostgreSQL a hash join of CDRs and connectors), then listed. As a
    # plain EXISTS in a list page (ORDER BY received_at LIMIT 100) PostgreSQL expects many matches and walks the
    # CDRs in order, each through the connector index: with a rare anomaly that is every CDR (0.9 s at 100,000
    # instead of 0.1). The LIMIT keeps the subquery from being merged into the outer query.
    flagged = Cdr.objects.filter(location__isnull=False).filter(Exists(weaker)).values("pk")[:FLAGGED_AT_MOST]
    return Q(pk__in=flagged)


def cdr_without_session() -> Q:
    """CDRs not linked to any session: the CPO never sent the session, or sent it under another id."""
    return Q(session__isnull=True)


@dataclass(frozen=True)
class Anomaly:
    key: str  # the admin filter's value
    title: str  # in words, for staff
    model: type[Model]
    condition: Callable[[], Q]

    def rows(self, queryset: QuerySet[Any] | None = None) -> QuerySet[Any]:
        """The flagged rows (of `queryset`, by default all of the model's)."""
        base = queryset if queryset is not None else self.model._default_manager.all()
        return base.filter(self.condition())


ANOMALIES: tuple[Anomaly, ...] = (
    Anomaly(
        "card_in_several_sessions", "Card in more than one active session", ChargingSession, card_in_several_sessions
    ),
    Anomaly("active_over_24h", "Active for more than 24 hours", ChargingSession, session_active_too_long),
    Anomaly("energy_beyond_power", "More energy than the connector's power allows", Cdr, cdr_energy_beyond_power),
    Anomaly("without_session", "No session", Cdr, cdr_without_session),
)


def anomalies_for(model: type[Model]) -> tuple[Anomaly, ...]:
    return tuple(anomaly for anomaly in ANOMALIES if anomaly.model is model)


def anomalies_count() -> dict[str, int]:
    """How many rows each anomaly flags now, by key (one COUNT each)."""
    return {anomaly.key: anomaly.rows().count() for anomaly in ANOMALIES}
