"""The rule for an update of an EVSE's status, stated once for every write that moves a status.

An update applies when its last_updated is not older than the one we hold (ties apply: a CPO may send two
statuses under one timestamp, and the later delivery wins). An applied update moves status and last_updated
together; REMOVED also dates the removal (`removed_at`, once). A history row (EvseStatusChange, changed_at =
the update's last_updated) is written exactly when the status the update replaced, read under the row lock,
differs; a new EVSE's first status is history too.

The conditions are Q objects on the stored EVSE, made from the update's values. Every write takes them from
here: the status PATCH (one PostgreSQL statement compiled from the same queryset the ORM runs elsewhere), the
EVSE PATCH (the ORM), and the bulk writes of locations and EVSEs (`holds` decides the same Q objects on the
rows they read under lock). Both executions come from this one statement of the rule, and
tests/roaming/test_evse_status_rule.py runs each of them on the same cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q

from emsp.lib.conditions import holds
from roaming.models import EvseStatus


@dataclass(frozen=True)
class StatusUpdate:
    """An update of one EVSE as a CPO sent it: its status (None: the update leaves it) and last_updated."""

    status: str | None
    last_updated: datetime

    def applies(self) -> Q:
        """On the stored EVSE: the update is not older than what we hold."""
        return Q(last_updated__lte=self.last_updated)

    def history_due(self) -> Q:
        """On the stored EVSE, read under the row lock: the status the update replaces differs."""
        if self.status is None:
            raise ValueError("an update that leaves the status writes no history")
        return ~Q(status=self.status)

    def moves(self, *, removed_at: datetime | None) -> dict[str, Any]:
        """The fields an applied update sets, given the stored `removed_at` (read under the row lock)."""
        fields: dict[str, Any] = {"last_updated": self.last_updated}
        if self.status is not None:
            fields["status"] = self.status
        if self.status == EvseStatus.REMOVED:
            fields["removed_at"] = removed_at or self.last_updated  # dated by the first REMOVED
        return fields

    def history_values(self) -> dict[str, Any]:
        """The history row's fields besides its EVSE: the new status, changed at the update's last_updated."""
        return {"status": self.status, "changed_at": self.last_updated}

    def applies_to(self, stored: Mapping[str, Any] | None) -> bool:
        """`applies` decided on a stored row read under lock (`last_updated`); a new EVSE takes any update."""
        return stored is None or holds(self.applies(), stored)

    def history_due_for(self, stored: Mapping[str, Any] | None) -> bool:
        """`history_due` decided on a stored row read under lock (`status`); a new EVSE's status is history."""
        return self.status is not None and (stored is None or holds(self.history_due(), stored))
