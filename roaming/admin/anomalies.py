"""Anomaly flags as list filters on sessions and CDRs; the rules are `roaming.selectors_anomalies`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from roaming.models import Cdr, ChargingSession
from roaming.selectors_anomalies import Anomaly, anomalies_for

PARAMETER = "anomaly"


class _AnomalyFilter(admin.SimpleListFilter):
    title = "anomaly"
    parameter_name = PARAMETER
    model: type[Model]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(anomaly.key, anomaly.title) for anomaly in anomalies_for(self.model)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        for anomaly in anomalies_for(self.model):
            if self.value() == anomaly.key:
                return anomaly.rows(queryset)
        return queryset


class SessionAnomalyFilter(_AnomalyFilter):
    model = ChargingSession


class CdrAnomalyFilter(_AnomalyFilter):
    model = Cdr


def anomaly_changelist_url(anomaly: Anomaly) -> str:
    """The admin list of the rows an anomaly flags (for links from the start page)."""
    meta = anomaly.model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist") + "?" + urlencode({PARAMETER: anomaly.key})
