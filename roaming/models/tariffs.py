"""Tariffs as the CPOs publish them: the price a driver sees and the basis for checking CDRs."""

from __future__ import annotations

from django.db import models


class Tariff(models.Model):
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="tariffs")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=36)
    currency = models.CharField(max_length=3)
    type = models.CharField(max_length=32, blank=True, help_text="Empty: valid for all sessions.")
    min_price_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    min_price_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    max_price_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    max_price_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    tax_included = models.CharField(  # noqa: DJ001 - NULL is "not given" (2.2.1), unlike any 2.3.0 value
        max_length=3,
        null=True,
        blank=True,
        help_text="OCPI 2.3.0: YES (prices incl. taxes), NO or N/A. Empty: 2.2.1, prices excl. VAT.",
    )
    start_date_time = models.DateTimeField(null=True, blank=True)
    end_date_time = models.DateTimeField(null=True, blank=True)
    alt_text = models.JSONField(default=list, blank=True)
    alt_url = models.URLField(max_length=255, blank=True)
    energy_mix = models.JSONField(null=True, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=40, blank=True)
    last_updated = models.DateTimeField()
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted or no longer listed by the CPO; kept for billing history."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("country_code", "party_id", "ocpi_id"), name="unique_tariff"),
        ]
        indexes = [models.Index(fields=("partner", "last_updated"), name="tariff_partner_updated")]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} ({self.currency})"


class TariffElement(models.Model):
    """An element of a tariff: price components that apply while all its restrictions hold."""

    tariff = models.ForeignKey(Tariff, on_delete=models.CASCADE, related_name="elements")
    position = models.PositiveSmallIntegerField(help_text="Order matters: the first matching element wins.")
    restrictions = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("tariff", "position")
        constraints = [models.UniqueConstraint(fields=("tariff", "position"), name="unique_tariff_element")]

    def __str__(self) -> str:
        return f"{self.tariff} element {self.position}"


class PriceComponent(models.Model):
    class Dimension(models.TextChoices):
        ENERGY = "ENERGY"
        FLAT = "FLAT"
        PARKING_TIME = "PARKING_TIME"
        TIME = "TIME"

    element = models.ForeignKey(TariffElement, on_delete=models.CASCADE, related_name="price_components")
    position = models.PositiveSmallIntegerField()
    type = models.CharField(max_length=32)
    price = models.DecimalField(max_digits=12, decimal_places=4, help_text="Per unit, excluding VAT.")
    vat = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="Percent; empty means no VAT applies."
    )
    step_size = models.PositiveIntegerField()

    class Meta:
        ordering = ("element", "position")

    def __str__(self) -> str:
        return f"{self.type} {self.price} (step {self.step_size})"
