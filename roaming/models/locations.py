"""Locations, EVSEs and connectors as the CPOs publish them.

Each object is addressed by the CPO's own ids under its (country_code, party_id). The fields a driver
app or the back office query are columns; everything else the partner sent is kept in `extra`, so a
GET gives back what was received. Objects are never deleted: an EVSE the CPO removes gets status
REMOVED, and an object a CPO stops listing gets `removed_at` from the full sync.

Columns of OCPI enum values (status, format, power_type, ...) are 32 characters wide: any value the spec
defines, or a value from a newer edition kept as sent (`OPEN_ENUM_MAX_LENGTH` in roaming/ocpi/v2_2_1/types.py).

`content_hash` is a hash of the object without its `last_updated` fields: some CPOs bump
`last_updated` without changing anything, and the sync skips those instead of rewriting them.
"""

from __future__ import annotations

from django.db import models


class EvseStatus(models.TextChoices):
    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class Location(models.Model):
    # FK indexes that only repeat the first column of a composite index below are left out throughout:
    # they slow the bulk writes of a full sync and the status PATCHes without serving any query.
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="locations", db_index=False)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=36)
    publish = models.BooleanField(default=True)
    name = models.CharField(max_length=255, blank=True)
    address = models.CharField(max_length=255)
    city = models.CharField(max_length=45)
    postal_code = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=45, blank=True)
    country = models.CharField(max_length=3)
    latitude = models.DecimalField(max_digits=10, decimal_places=7)
    longitude = models.DecimalField(max_digits=10, decimal_places=7)
    parking_type = models.CharField(max_length=32, blank=True)
    time_zone = models.CharField(max_length=255, blank=True)
    operator_name = models.CharField(max_length=100, blank=True)
    facilities = models.JSONField(default=list, blank=True)
    opening_times = models.JSONField(null=True, blank=True)
    charging_when_closed = models.BooleanField(default=True)
    extra = models.JSONField(default=dict, blank=True, help_text="The rest of the object as the CPO sent it.")
    content_hash = models.CharField(max_length=40, blank=True)
    last_updated = models.DateTimeField(help_text="The CPO's last_updated.")
    removed_at = models.DateTimeField(null=True, blank=True, help_text="No longer listed by the CPO.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("country_code", "party_id", "ocpi_id"), name="unique_location"),
        ]
        indexes = [
            # The driver app's "near me" and map (roaming/selectors_chargers.py): the bounding box over the
            # locations a driver may see, with the id, so the candidates and their distances come from the index
            # alone (an index-only scan), not from a table row each scattered over as many pages.
            models.Index(
                fields=("latitude", "longitude", "id"),
                name="location_published_coordinates",
                condition=models.Q(publish=True, removed_at__isnull=True),
            ),
            # Incremental reads and the back office's "recently changed".
            models.Index(fields=("partner", "last_updated"), name="location_partner_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} {self.name}".strip()


class Evse(models.Model):
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="evses", db_index=False)
    uid = models.CharField(max_length=36)
    evse_id = models.CharField(max_length=48, blank=True)
    # Not indexed: five values, no query filters on it, and an unindexed column lets PostgreSQL update the
    # row in place (HOT) on every status change.
    status = models.CharField(max_length=32, default=EvseStatus.UNKNOWN)
    capabilities = models.JSONField(default=list, blank=True)
    floor_level = models.CharField(max_length=4, blank=True)
    physical_reference = models.CharField(max_length=16, blank=True)
    latitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    longitude = models.DecimalField(max_digits=10, decimal_places=7, null=True, blank=True)
    parking_restrictions = models.JSONField(default=list, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    last_updated = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "EVSE"
        constraints = [models.UniqueConstraint(fields=("location", "uid"), name="unique_evse")]
        indexes = [models.Index(fields=("evse_id",), name="evse_evse_id")]  # support: "EVSE NL*ABC*E123"

    def __str__(self) -> str:
        return self.evse_id or self.uid


class Connector(models.Model):
    evse = models.ForeignKey(Evse, on_delete=models.CASCADE, related_name="connectors", db_index=False)
    ocpi_id = models.CharField("id", max_length=36)
    standard = models.CharField(max_length=32)
    format = models.CharField(max_length=32)
    power_type = models.CharField(max_length=32)
    max_voltage = models.PositiveIntegerField()
    max_amperage = models.PositiveIntegerField()
    max_electric_power = models.PositiveIntegerField(null=True, blank=True)
    tariff_ids = models.JSONField(default=list, blank=True)
    terms_and_conditions = models.URLField(max_length=255, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    last_updated = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("evse", "ocpi_id"), name="unique_connector")]

    def __str__(self) -> str:
        return f"{self.evse} #{self.ocpi_id} {self.standard}"


class EvseStatusChange(models.Model):
    """One row per status change (not per push): availability statistics and support history."""

    evse = models.ForeignKey(Evse, on_delete=models.CASCADE, related_name="status_changes", db_index=False)
    status = models.CharField(max_length=32)
    changed_at = models.DateTimeField(help_text="The CPO's last_updated of the change.")

    class Meta:
        indexes = [models.Index(fields=("evse", "changed_at"), name="evse_status_history")]

    def __str__(self) -> str:
        return f"{self.evse_id} → {self.status} at {self.changed_at:%Y-%m-%d %H:%M:%S}"
