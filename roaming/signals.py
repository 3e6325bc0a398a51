"""What roaming tells the apps above it, without importing them (billing listens; roaming never imports billing).

Signals are sent inside the writer's transaction where there is one: a receiver that starts work must defer it
to the commit (`enqueue`). Receivers must be cheap: `cdr_stored` is sent on the CDR POST, a hot path.
"""

from __future__ import annotations

from django.db import models
from django.dispatch import Signal

#: A new CDR was stored (not sent for a resend of one we hold), and committed unless the caller holds a
#: transaction. kwargs: cdr_pk (int).
cdr_stored = Signal()

#: Rows other apps keep for every CDR, written with it (`register_cdr_companion`): (model, its foreign key to Cdr).
CDR_COMPANIONS: list[tuple[type[models.Model], str]] = []


def register_cdr_companion(model: type[models.Model], foreign_key: str) -> None:
    """Every new CDR gets a row of `model` (its `foreign_key` naming the CDR, every other column its database
    default, `db_default`), written with the CDR: on PostgreSQL in the CDR's own INSERT statement, elsewhere in
    its transaction. The CDR POST is a hot path: a receiver of `cdr_stored` writing the row cost it a
    transaction and a round trip of their own, a fifth of its throughput. Register in `AppConfig.ready()`."""
    if (model, foreign_key) not in CDR_COMPANIONS:
        CDR_COMPANIONS.append((model, foreign_key))


#: Tariffs were created or changed. kwargs: keys (list of (country_code, party_id, ocpi_id)).
tariffs_stored = Signal()

#: Locations were created or changed. kwargs: keys (list of (country_code, party_id, ocpi_id)).
locations_stored = Signal()
