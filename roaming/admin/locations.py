"""Back office for what CPOs publish: locations, EVSEs with their status history, tariffs (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from emsp.lib.admin import (
    CheapCountPaginator,
    ReadOnlyAdmin,
    admin_link,
    cached_values,
    changelist_link,
    fixed_values,
    json_block,
    one_line,
    when,
)
from roaming.admin.related import links, related_first
from roaming.models import (
    Cdr,
    ChargingSession,
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

#: The status changes an EVSE's page shows; the rest are one click away (a charger changes status all day).
STATUS_HISTORY_SHOWN = 30


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
    exclude = ("opening_times", "facilities", "extra")
    readonly_fields = ("related", "opening_times_json", "facilities_json", "extra_json")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj))

    @admin.display(description="Related")
    def related(self, obj: Location) -> str:
        here = {"location__id__exact": obj.pk}
        return links(
            ("Partner", admin_link(obj.partner)),
            ("EVSEs", changelist_link(Evse, "EVSEs", **here)),
            ("Sessions", changelist_link(ChargingSession, "sessions here", **here)),
            ("CDRs", changelist_link(Cdr, "CDRs here", **here)),
        )

    @admin.display(description="Opening times")
    def opening_times_json(self, obj: Location) -> str:
        return json_block(obj.opening_times)

    @admin.display(description="Facilities")
    def facilities_json(self, obj: Location) -> str:
        return json_block(obj.facilities)

    @admin.display(description="Other fields as sent")
    def extra_json(self, obj: Location) -> str:
        return json_block(obj.extra)

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


@admin.register(Evse)
class EvseAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "location_link", "last_updated", "removed_at")
    list_filter = (("status", fixed_values(*EvseStatus)), "location__partner")
    search_fields = ("=uid", "=evse_id", "location__name")
    list_select_related = ("location",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    raw_id_fields = ("location",)
    inlines = (ConnectorInline,)
    exclude = ("extra",)
    readonly_fields = ("related", "status_history", "extra_json")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj))

    @admin.display(description="Location", ordering="location")
    def location_link(self, obj: Evse) -> str:
        return admin_link(obj.location, one_line(obj.location, 40))

    @admin.display(description="Related")
    def related(self, obj: Evse) -> str:
        return links(
            ("Location", admin_link(obj.location)),
            (
                "Sessions",
                changelist_link(
                    ChargingSession, "sessions at this EVSE", location__id__exact=obj.location_id, evse_uid=obj.uid
                ),
            ),
        )

    @admin.display(description="Status history")
    def status_history(self, obj: Evse) -> str:
        """The latest changes (evse_status_history index), and a link to all of them."""
        changes = obj.status_changes.order_by("-changed_at")[:STATUS_HISTORY_SHOWN]
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>", ((when(c.changed_at), c.status) for c in changes)
        )
        return format_html(
            "<table><thead><tr><th>Changed at</th><th>Status</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            changelist_link(EvseStatusChange, "the whole history", evse__id__exact=obj.pk),
        )

    @admin.display(description="Other fields as sent")
    def extra_json(self, obj: Evse) -> str:
        return json_block(obj.extra)


@admin.register(EvseStatusChange)
class EvseStatusChangeAdmin(ReadOnlyAdmin):
    """Status histories: open one EVSE's from its page (?evse__id__exact=)."""

    list_display = ("changed", "evse_link", "status")
    list_filter = (("status", fixed_values(*EvseStatus)),)  # given: SELECT DISTINCT would read every row
    list_select_related = ("evse__location",)
    paginator = CheapCountPaginator  # one row per status change of every EVSE
    show_full_result_count = False
    # Newest recorded first, by key: `changed_at` alone has no index (one more write on every status PATCH), and
    # sorting 300,000 rows by it took 0.45 s (bench/admin_bench.py). One EVSE's history sorts by its own index.
    ordering = ("-pk",)

    @admin.display(description="Changed at", ordering="changed_at")
    def changed(self, obj: EvseStatusChange) -> str:
        return when(obj.changed_at)

    @admin.display(description="EVSE")
    def evse_link(self, obj: EvseStatusChange) -> str:
        return admin_link(obj.evse, f"{obj.evse} at {obj.evse.location}")


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
