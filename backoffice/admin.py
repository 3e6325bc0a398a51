"""Admin pages that show more than one app's rows: each is the owning app's admin class with what only the back
office may join to it (the layers keep drivers from knowing roaming, and roaming from knowing billing).

- Driver: the support view, and the driver's sessions, CDRs, authorizations, commands and invoices one click away.
- CDR: our price and the driver's charge beside the CPO's, and the invoice that bills it.
- Tariff: its elements and price components as a table, the restrictions in words (billing.tariffs.describe).

Registered over the apps' own classes (this app is last in INSTALLED_APPS, so its admin module is read last).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing.admin.pricing import side_by_side_table
from billing.models import CdrPrice, Invoice, PlanSubscription, SessionCharge
from billing.tariffs.describe import restrictions_text, step_text, unit_text
from billing.tariffs.ocpi_json import restrictions_from_ocpi
from billing.tariffs.types import TariffInputError
from drivers.admin import DriverAdmin
from drivers.models import Driver
from emsp.lib.admin import admin_link, changelist_link, json_block
from roaming.admin.locations import TariffAdmin, TariffElementAdmin
from roaming.admin.related import links, related_first
from roaming.admin.sessions import CdrAdmin
from roaming.models import Authorization, Cdr, ChargingSession, Command, Tariff, TariffElement

# --- drivers ---------------------------------------------------------------------------------------------


def support_url(driver: Driver) -> str:
    return reverse("backoffice:driver_support", args=[driver.pk])


class SupportDriverAdmin(DriverAdmin):
    """The driver admin with the support view and every related list one click away; searchable by card uid too."""

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        return (*super().get_list_display(request), "support")

    def get_search_fields(self, request: HttpRequest) -> tuple[Any, ...]:
        return (*super().get_search_fields(request), "=tokens__uid")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return (*super().get_readonly_fields(request, obj), "related")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        fields = list(super().get_fields(request, obj))
        return related_first(fields) if obj is not None else fields  # the add page has nothing related yet

    @admin.display(description="Support")
    def support(self, obj: Driver) -> str:
        return format_html('<a href="{}">support view</a>', support_url(obj))

    @admin.display(description="Related")
    def related(self, obj: Driver) -> str:
        if obj.pk is None:
            return "-"
        mine = {"driver__id__exact": obj.pk}
        return links(
            ("Support view", format_html('<a href="{}">everything on one page</a>', support_url(obj))),
            ("Sessions", changelist_link(ChargingSession, "sessions", **mine)),
            ("CDRs", changelist_link(Cdr, "CDRs", **mine)),
            ("Authorizations", changelist_link(Authorization, "authorizations", driver=obj.pk)),
            ("Commands", changelist_link(Command, "commands", driver=obj.pk)),
            ("Charges", changelist_link(SessionCharge, "session charges", **mine)),
            ("Invoices", changelist_link(Invoice, "invoices", **mine)),
            ("Plans", changelist_link(PlanSubscription, "plan history", **mine)),
        )


admin.site.unregister(Driver)
admin.site.register(Driver, SupportDriverAdmin)


# --- CDRs ------------------------------------------------------------------------------------------------


class PriceStatusFilter(admin.SimpleListFilter):
    title = "our price"
    parameter_name = "price_status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(CdrPrice.Status.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(price__status=self.value()) if self.value() else queryset


def _after(columns: tuple[Any, ...], anchor: str, *added: str) -> tuple[Any, ...]:
    """`columns` with `added` right after `anchor` (at the end without it)."""
    if anchor not in columns:
        return (*columns, *added)
    at = columns.index(anchor) + 1
    return (*columns[:at], *added, *columns[at:])


class PricedCdrAdmin(CdrAdmin):
    """The CDR admin with our price beside the CPO's, the driver's charge and the invoice line that bills it."""

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        return _after(tuple(super().get_list_display(request)), "cost", "our_price")

    def get_list_filter(self, request: HttpRequest) -> tuple[Any, ...]:
        return (*super().get_list_filter(request), PriceStatusFilter)

    def get_list_select_related(self, request: HttpRequest) -> tuple[Any, ...] | bool:
        related = super().get_list_select_related(request)
        return (*related, "price") if isinstance(related, list | tuple) else related

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return _after(tuple(super().get_readonly_fields(request, obj)), "related", "prices", "charge_and_invoice")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj), "related", "prices", "charge_and_invoice")

    @admin.display(description="Our price")
    def our_price(self, obj: Cdr) -> str:
        price = getattr(obj, "price", None)
        if price is None or price.total_excl_vat is None:
            return price.status if price is not None else "-"
        return format_html(
            '<span style="white-space:nowrap" title="{}">{}</span>',
            f"{price.total_excl_vat.normalize():f} {price.currency} ({price.status})",
            f"{price.total_excl_vat:.2f} {price.currency}",
        )

    @admin.display(description="CPO's price and ours")
    def prices(self, obj: Cdr) -> SafeString:
        price = CdrPrice.objects.filter(cdr=obj).first()
        status = format_html("{}", "not priced") if price is None else admin_link(price, price.status)
        return format_html("{}{}", side_by_side_table(obj, price), status)

    @admin.display(description="Driver's charge and invoice")
    def charge_and_invoice(self, obj: Cdr) -> str:
        charge = SessionCharge.objects.filter(cdr=obj).select_related("invoice", "plan").first()
        if charge is None:
            return "-"
        line = getattr(charge, "invoice_line", None)
        return links(
            ("Charge", admin_link(charge, f"{charge.amount_excl_vat.normalize():f} {charge.currency} excl. VAT")),
            ("Plan", charge.plan.name),
            ("Invoice", admin_link(charge.invoice) if charge.invoice else "not invoiced yet"),
            ("Invoice line", f"line {line.position}: {line.description}" if line else ""),
        )


admin.site.unregister(Cdr)
admin.site.register(Cdr, PricedCdrAdmin)


# --- tariffs ---------------------------------------------------------------------------------------------


def _when(element: TariffElement) -> str:
    if not element.restrictions:
        return "always"
    try:
        return restrictions_text(restrictions_from_ocpi(element.restrictions))
    except TariffInputError as exc:  # stored as the CPO sent it; the engine would refuse it too
        return f"unreadable ({exc})"


def tariff_table(tariff: Tariff) -> SafeString:
    """The tariff's elements in order (the first that applies wins), each price component a row."""
    rows = []
    for element in tariff.elements.all():
        components = list(element.price_components.all())
        for index, component in enumerate(components):
            rows.append(
                (
                    element.position + 1 if index == 0 else "",
                    _when(element) if index == 0 else "",
                    component.type,
                    f"{component.price.normalize():f} {tariff.currency} {unit_text(component.type)}",
                    "-" if component.vat is None else f"{component.vat.normalize():f} %",
                    step_text(component.type, component.step_size) or "-",
                )
            )
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
    limits = []
    if tariff.min_price_excl_vat is not None:
        limits.append(f"at least {tariff.min_price_excl_vat.normalize():f} {tariff.currency} a session")
    if tariff.max_price_excl_vat is not None:
        limits.append(f"at most {tariff.max_price_excl_vat.normalize():f} {tariff.currency} a session")
    return format_html(
        '<table class="tariff-table"><thead><tr><th>Element</th><th>Applies</th><th>Component</th>'
        "<th>Price excl. VAT</th><th>VAT</th><th>Billed</th></tr></thead><tbody>{}</tbody></table>{}",
        body,
        format_html("<p>{}</p>", "; ".join(limits)[:1].upper() + "; ".join(limits)[1:]) if limits else "",
    )


class TariffTableAdmin(TariffAdmin):
    """The tariff admin with the prices as a table and the restrictions in words."""

    exclude = ("alt_text", "energy_mix", "extra")
    readonly_fields = ("prices", "alt_text_json", "energy_mix_json", "extra_json")

    @admin.display(description="Prices")
    def prices(self, obj: Tariff) -> SafeString:
        return tariff_table(obj)

    @admin.display(description="Alternative text")
    def alt_text_json(self, obj: Tariff) -> str:
        return json_block(obj.alt_text)

    @admin.display(description="Energy mix")
    def energy_mix_json(self, obj: Tariff) -> str:
        return json_block(obj.energy_mix)

    @admin.display(description="Other fields as sent")
    def extra_json(self, obj: Tariff) -> str:
        return json_block(obj.extra)


class TariffElementWordsAdmin(TariffElementAdmin):
    list_display = ("tariff", "position", "applies")
    list_select_related = ("tariff",)

    @admin.display(description="Applies")
    def applies(self, obj: TariffElement) -> str:
        return _when(obj)


admin.site.unregister(Tariff)
admin.site.register(Tariff, TariffTableAdmin)
admin.site.unregister(TariffElement)
admin.site.register(TariffElement, TariffElementWordsAdmin)
