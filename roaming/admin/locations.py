"""Back office for what CPOs publish: locations, EVSEs with their status history, tariffs (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, cached_values, fixed_values
from roaming.models import (
    Connector,
    Evse,
    EvseStatus,
    EvseStatusChange,
    Location,
    PriceComponent,
    Tariff,
    TariffElement,
)
from roaming.ocpi.v2_2_1.locations import ParkingType


class EvseInline(admin.TabularInline[Evse, Location]):
    model = Evse
    extra = 0
    fields = ("uid", "evse_id", "status", "capabilities", "last_updated", "removed_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Location)
class LocationAdmin(ReadOnlyAdmin):
    list_display = (
        "ocpi_id",
        "name",
        "city",
        "country",
        "party",
        "partner",
        "evse_count",
        "last_updated",
        "removed_at",
    )
    list_filter = (
        "partner",
        ("country", cached_values()),
        "removed_at",
        "publish",
        ("parking_type", fixed_values(*ParkingType)),
    )
    search_fields = ("=ocpi_id", "name", "address", "city", "postal_code")
    list_select_related = ("partner",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    inlines = (EvseInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        # A correlated count, computed for the page's rows only; a JOIN with GROUP BY grouped every location's
        # EVSEs for the count and each filter's choices too.
        evses = Evse.objects.filter(location=OuterRef("pk")).order_by().values("location").annotate(n=Count("pk"))
        return super().get_queryset(request).annotate(evse_total=Coalesce(Subquery(evses.values("n")), 0))

    @admin.display(description="Party")
    def party(self, obj: Location) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="EVSEs", ordering="evse_total")
    def evse_count(self, obj: Location) -> int:
        return obj.evse_total  # type: ignore[attr-defined]


class ConnectorInline(admin.TabularInline[Connector, Evse]):
    model = Connector
    extra = 0
    fields = (
        "ocpi_id",
        "standard",
        "format",
        "power_type",
        "max_voltage",
        "max_amperage",
        "max_electric_power",
        "tariff_ids",
        "last_updated",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusChangeInline(admin.TabularInline[EvseStatusChange, Evse]):
    model = EvseStatusChange
    extra = 0
    fields = ("changed_at", "status")
    readonly_fields = fields
    ordering = ("-changed_at",)
    can_delete = False
    max_num = 0


@admin.register(Evse)
class EvseAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "location", "last_updated", "removed_at")
    list_filter = (("status", fixed_values(*EvseStatus)), "location__partner")
    search_fields = ("=uid", "=evse_id", "location__name")
    list_select_related = ("location",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    raw_id_fields = ("location",)
    inlines = (ConnectorInline, StatusChangeInline)


class PriceComponentInline(admin.TabularInline[PriceComponent, TariffElement]):
    model = PriceComponent
    extra = 0
    readonly_fields = ("type", "price", "vat", "step_size")
    fields = readonly_fields


@admin.register(Tariff)
class TariffAdmin(ReadOnlyAdmin):
    list_display = ("ocpi_id", "party", "currency", "type", "summary", "last_updated", "removed_at")
    list_filter = ("partner", "currency", "type", "removed_at")
    search_fields = ("=ocpi_id",)
    list_select_related = ("partner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        return super().get_queryset(request).prefetch_related("elements__price_components")

    @admin.display(description="Party")
    def party(self, obj: Tariff) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="Prices (excl. VAT)")
    def summary(self, obj: Tariff) -> str:
        parts = []
        for element in obj.elements.all():
            for c in element.price_components.all():
                unit = {"ENERGY": "/kWh", "TIME": "/h", "PARKING_TIME": "/h parking"}.get(c.type, " flat")
                parts.append(f"{c.price.normalize()} {obj.currency}{unit}" + (" *" if element.restrictions else ""))
        return "; ".join(parts)


@admin.register(TariffElement)
class TariffElementAdmin(ReadOnlyAdmin):
    list_display = ("tariff", "position", "restrictions")
    inlines = (PriceComponentInline,)
