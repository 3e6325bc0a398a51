"""What roaming tells the apps above it, without importing them (billing listens; roaming never imports billing).

Sent inside the writer's transaction: a receiver that starts work must defer it to the commit (`enqueue`).
Their writes commit with it. Receivers must be cheap: `cdr_stored` is sent on the CDR POST, a hot path.
"""

from __future__ import annotations

from django.dispatch import Signal

#: A new CDR was stored (not sent for a resend of one we hold). kwargs: cdr_pk (int).
cdr_stored = Signal()

#: Tariffs were created or changed. kwargs: keys (list of (country_code, party_id, ocpi_id)).
tariffs_stored = Signal()

#: Locations were created or changed. kwargs: keys (list of (country_code, party_id, ocpi_id)).
locations_stored = Signal()
