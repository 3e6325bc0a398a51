"""Back office for CPO invoices (OCPI 2.3.0 invoice reconciliation records): finance checks each invoice against
the CDRs we received and the prices we accepted before paying it.

The records are roaming's (what the CPO sent, read-only); their admin lives here because what finance reads
next to them is billing's (billing.invoice_reconciliation). Thin: every figure comes from there. The list
computes the checks of its page's invoices once, after the page is read; the record's page is the invoice's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing import invoice_reconciliation as checks
from billing.invoice_reconciliation import InvoiceCheck, InvoiceTotal
from emsp.lib.admin import ReadOnlyAdmin, admin_link, changelist_link, json_block, when
from roaming.models import Cdr, InvoiceReconciliationRecord

#: Rows of a list on the invoice's page; a count says how many more there are.
SHOWN = 500


def _amount(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def _totals(totals: list[InvoiceTotal], *, accepted: bool) -> str:
    if accepted:
        return "; ".join(f"{_amount(t.accepted_excl_vat)} {t.currency}" for t in totals) or "-"
    return "; ".join(f"{_amount(t.cpo_excl_vat)} {t.currency}" for t in totals) or "-"


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("live", "live"), ("deleted", "withdrawn by the CPO")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "live":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(InvoiceReconciliationRecord)
class InvoiceRecordAdmin(ReadOnlyAdmin):
    list_display = (
        "invoice_id",
        "partner",
        "ocpi_id",
        "named",
        "missing",
        "double",
        "unnamed",
        "cpo_total",
        "accepted_total",
        "open_disputes",
        "last_updated",
        "withdrawn",
    )
    list_filter = (DeletedFilter, "partner")
    list_select_related = ("partner",)
    search_fields = ("=invoice_id", "=ocpi_id")
    ordering = ("-last_updated", "-pk")
    list_per_page = 50  # each row's invoice is checked: a few queries per invoice
    fields = (
        "partner",
        "country_code",
        "party_id",
        "ocpi_id",
        "invoice_id",
        "last_updated",
        "received_at",
        "deleted_at",
        "other_records",
        "totals_table",
        "missing_ids",
        "double_ids",
        "invoiced_cdrs",
        "unnamed_cdrs",
        "as_received",
    )
    readonly_fields = fields

    # --- the checks, computed once per page or per record -------------------------------------------------

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        page = list(changelist.result_list)  # the page's rows, read once; the template reuses them
        found = checks.invoice_checks(page)
        unnamed: dict[int, int] = {}
        for record in page:
            record.reconciliation = found[(record.partner_id, record.invoice_id.upper())]
            if record.partner_id not in unnamed:
                unnamed[record.partner_id] = checks.cdrs_unnamed(partner=record.partner).count()
            record.unnamed_count = unnamed[record.partner_id]
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        record = super().get_object(request, object_id, from_field)
        if record is not None:
            record.reconciliation = checks.invoice_check(partner=record.partner, invoice_id=record.invoice_id)
        return record

    @staticmethod
    def _check(obj: InvoiceReconciliationRecord) -> InvoiceCheck:
        return obj.reconciliation  # type: ignore[attr-defined]

    # --- list columns -------------------------------------------------------------------------------------

    @admin.display(description="CDRs named")
    def named(self, obj: InvoiceReconciliationRecord) -> int:
        return self._check(obj).named

    @admin.display(description="never received")
    def missing(self, obj: InvoiceReconciliationRecord) -> int:
        return len(self._check(obj).missing)

    @admin.display(description="named twice")
    def double(self, obj: InvoiceReconciliationRecord) -> int:
        return len(self._check(obj).double)

    @admin.display(description="CPO's CDRs on no invoice")
    def unnamed(self, obj: InvoiceReconciliationRecord) -> int:
        return obj.unnamed_count  # type: ignore[attr-defined]

    @admin.display(description="CPO's price (excl. VAT)")
    def cpo_total(self, obj: InvoiceReconciliationRecord) -> str:
        return _totals(self._check(obj).totals, accepted=False)

    @admin.display(description="accepted price (excl. VAT)")
    def accepted_total(self, obj: InvoiceReconciliationRecord) -> str:
        return _totals(self._check(obj).totals, accepted=True)

    @admin.display(description="open disputes")
    def open_disputes(self, obj: InvoiceReconciliationRecord) -> int:
        return sum(t.open_disputes for t in self._check(obj).totals)

    @admin.display(description="withdrawn", boolean=True)
    def withdrawn(self, obj: InvoiceReconciliationRecord) -> bool:
        return obj.deleted_at is not None

    # --- the invoice's page -------------------------------------------------------------------------------

    @admin.display(description="Records of this invoice")
    def other_records(self, obj: InvoiceReconciliationRecord) -> SafeString:
        records = self._check(obj).records
        if not records:
            return format_html("{}", "none live (this one was withdrawn)")
        return format_html_join(", ", "{}", ((admin_link(r, r.ocpi_id),) for r in records))

    @admin.display(description="Totals")
    def totals_table(self, obj: InvoiceReconciliationRecord) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    t.currency,
                    t.cdrs,
                    _amount(t.cpo_excl_vat),
                    _amount(t.cpo_incl_vat),
                    _amount(t.accepted_excl_vat),
                    _amount(t.accepted_incl_vat),
                    t.open_disputes,
                )
                for t in self._check(obj).totals
            ),
        )
        return format_html(
            "<table><thead><tr><th>Currency</th><th>CDRs</th><th>CPO excl. VAT</th><th>CPO incl. VAT</th>"
            "<th>Accepted excl. VAT</th><th>Accepted incl. VAT</th><th>Open disputes</th></tr></thead>"
            "<tbody>{}</tbody></table><p>{}</p>",
            rows,
            "Accepted: the CPO's price, or ours where a decided dispute accepted ours. Compare with the invoice.",
        )

    @admin.display(description="Named, never received")
    def missing_ids(self, obj: InvoiceReconciliationRecord) -> str:
        return ", ".join(self._check(obj).missing) or "-"

    @admin.display(description="Named more than once")
    def double_ids(self, obj: InvoiceReconciliationRecord) -> SafeString:
        double = self._check(obj).double
        if not double:
            return format_html("{}", "-")
        return format_html_join(
            "",
            "<div>{} on invoices {}</div>",
            ((changelist_link(Cdr, cdr_id, q=cdr_id), ", ".join(invoices)) for cdr_id, invoices in double.items()),
        )

    @admin.display(description="CDRs on this invoice")
    def invoiced_cdrs(self, obj: InvoiceReconciliationRecord) -> SafeString:
        lines = self._check(obj).cdrs
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    admin_link(line.cdr, line.cdr.ocpi_id),
                    when(line.cdr.start_date_time),
                    line.cdr.currency,
                    _amount(line.cdr.total_cost_excl_vat),
                    line.dispute_status or "-",
                    "ours" if line.basis == "ours" else "CPO's",
                    _amount(line.accepted_excl_vat),
                )
                for line in lines[:SHOWN]
            ),
        )
        more = f"and {len(lines) - SHOWN} more" if len(lines) > SHOWN else ""
        return format_html(
            "<table><thead><tr><th>CDR</th><th>Start</th><th>Currency</th><th>CPO excl. VAT</th><th>Dispute</th>"
            "<th>Accepted</th><th>Accepted excl. VAT</th></tr></thead><tbody>{}</tbody></table>{}",
            rows,
            more,
        )

    @admin.display(description="CPO's CDRs on no invoice (after the grace period)")
    def unnamed_cdrs(self, obj: InvoiceReconciliationRecord) -> SafeString:
        unnamed = list(checks.cdrs_unnamed(partner=obj.partner)[: SHOWN + 1])
        if not unnamed:
            return format_html("{}", "-")
        links = format_html_join(", ", "{}", ((admin_link(cdr, cdr.ocpi_id),) for cdr in unnamed[:SHOWN]))
        return format_html("{}{}", links, " and more" if len(unnamed) > SHOWN else "")

    @admin.display(description="As received")
    def as_received(self, obj: InvoiceReconciliationRecord) -> SafeString:
        return json_block({"invoice_id": obj.invoice_id, "cdrs": obj.cdr_ids, **obj.extra})
