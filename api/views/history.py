"""History: the driver's sessions, what each cost them (the charge of its CDR, under their plan, with VAT), their
invoices and each invoice's PDF. Newest first, by cursor: new sessions never shift the pages the app has."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import HistoryPagination
from api.schema import errors
from api.views.base import DriverView
from api.views.charging import LIVE_EXAMPLE, LiveSessionOut, live_session_data
from billing.documents import invoice_document_store
from billing.models import Invoice, InvoiceLine, SessionCharge
from billing.retail import line_totals
from billing.selectors import driver_charges, driver_invoice, driver_invoices
from roaming.models import Cdr, ChargingSession
from roaming.selectors import driver_session, driver_sessions


class ChargePagination(HistoryPagination):
    ordering = "-session_start"


class InvoicePagination(HistoryPagination):
    ordering = "-issued_at"


def _money(value: Any) -> str:
    return f"{value:f}"


# --- sessions ---------------------------------------------------------------------------------------------


class SessionCostOut(serializers.Serializer):
    currency = serializers.CharField()
    incl_vat = serializers.CharField(help_text="The sum of the session's charges, as invoiced.")


class SessionItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="starting, charging, finished, invalid or reserved")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    energy_kwh = serializers.CharField()
    location_name = serializers.CharField(allow_blank=True)
    city = serializers.CharField(allow_blank=True)
    cost = SessionCostOut(allow_null=True, help_text="Once the operator's record (CDR) was priced; else null.")
    charge_ids = serializers.ListField(child=serializers.IntegerField(), help_text="GET /history/charges/{id}.")


def _session_item(session: ChargingSession) -> dict[str, Any]:
    charges = [cdr.charge for cdr in session.cdrs.all() if hasattr(cdr, "charge")]
    cost = None
    if charges:
        total = sum(line_totals(c.amount_excl_vat, c.vat_rate).incl_vat for c in charges)
        cost = {"currency": charges[0].currency, "incl_vat": _money(total)}
    location = session.location
    return {
        "id": session.pk,
        "status": {"PENDING": "starting", "ACTIVE": "charging", "COMPLETED": "finished"}.get(
            session.status, session.status.lower()
        ),
        "started_at": session.start_date_time,
        "ended_at": session.end_date_time,
        "energy_kwh": f"{session.kwh.normalize():f}",
        "location_name": location.name if location else "",
        "city": location.city if location else "",
        "cost": cost,
        "charge_ids": [c.cdr_id for c in charges],
    }


def _with_charges(sessions: QuerySet[ChargingSession]) -> QuerySet[ChargingSession]:
    return sessions.prefetch_related(
        Prefetch("cdrs", queryset=Cdr.objects.select_related("charge").only("pk", "session_id", "charge"))
    )


_SESSION_ITEM = {
    "id": 1234,
    "status": "finished",
    "started_at": "2026-03-02T09:00:00Z",
    "ended_at": "2026-03-02T10:00:00Z",
    "energy_kwh": "22.5",
    "location_name": "Central Garage",
    "city": "Amsterdam",
    "cost": {"currency": "EUR", "incl_vat": "12.10"},
    "charge_ids": [5678],
}


class SessionsView(DriverView):
    pagination_class = HistoryPagination

    @extend_schema(
        operation_id="history_sessions_list",
        summary="Your sessions, newest first",
        tags=["History"],
        responses={200: SessionItemOut(many=True), **errors(401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "next": "https://emsp.example.com/api/v1/history/sessions?cursor=cD0y",
                    "previous": None,
                    "results": [_SESSION_ITEM],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(_with_charges(driver_sessions(self.driver(request))), request, view=self)
        assert page is not None
        return paginator.get_paginated_response(SessionItemOut([_session_item(s) for s in page], many=True).data)


_FINISHED_EXAMPLE = {**LIVE_EXAMPLE, "status": "finished", "is_live": False}


class SessionView(DriverView):
    @extend_schema(
        operation_id="history_session_get",
        summary="One of your sessions, with its cost",
        description="As the live session (a finished one's cost is its final one under your plan).",
        tags=["History"],
        responses={200: LiveSessionOut, **errors(401, 403, 404)},
        examples=[OpenApiExample("Finished", value=_FINISHED_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = driver_session(self.driver(request), session_id)
        if session is None:
            raise NotFound("No such session.")
        return Response(live_session_data(session))


# --- charges ----------------------------------------------------------------------------------------------


class ChargeLineOut(serializers.Serializer):
    kind = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.CharField()
    unit_price = serializers.CharField(help_text="Excl. VAT.")
    amount = serializers.CharField(help_text="Excl. VAT, full precision.")


class InvoiceRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class ChargeOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="The charge's id (that of the operator's record, the CDR).")
    session_id = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    location = serializers.CharField(allow_blank=True)
    power_class = serializers.CharField(allow_blank=True)
    energy_kwh = serializers.CharField()
    charging_hours = serializers.CharField()
    parking_hours = serializers.CharField()
    plan = serializers.CharField()
    currency = serializers.CharField()
    lines = ChargeLineOut(many=True, help_text="The breakdown under your plan, excl. VAT.")
    excl_vat = serializers.CharField(help_text="Rounded to cents, as on the invoice line.")
    vat_rate = serializers.CharField(help_text="Percent.")
    vat = serializers.CharField()
    incl_vat = serializers.CharField()
    is_credit = serializers.BooleanField(help_text="The operator corrected an earlier record: a negative charge.")
    invoice = InvoiceRefOut(allow_null=True, help_text="The invoice that lists it, once invoiced.")


def _charge(charge: SessionCharge) -> dict[str, Any]:
    totals = line_totals(charge.amount_excl_vat, charge.vat_rate)
    invoice = charge.invoice
    return {
        "id": charge.cdr_id,
        "session_id": charge.cdr.session_id,
        "started_at": charge.session_start,
        "ended_at": charge.session_end,
        "location": charge.location,
        "power_class": charge.power_class,
        "energy_kwh": f"{charge.energy_kwh.normalize():f}",
        "charging_hours": f"{charge.charging_hours.normalize():f}",
        "parking_hours": f"{charge.parking_hours.normalize():f}",
        "plan": charge.plan.name,
        "currency": charge.currency,
        "lines": charge.lines,
        "excl_vat": _money(totals.excl_vat),
        "vat_rate": f"{charge.vat_rate.normalize():f}",
        "vat": _money(totals.vat),
        "incl_vat": _money(totals.incl_vat),
        "is_credit": charge.credits_id is not None,
        "invoice": {"id": invoice.pk, "number": invoice.number} if invoice else None,
    }


_CHARGE = {
    "id": 5678,
    "session_id": 1234,
    "started_at": "2026-03-02T09:00:00Z",
    "ended_at": "2026-03-02T10:00:00Z",
    "location": "Central Garage, Stationsplein 1, Amsterdam",
    "power_class": "AC",
    "energy_kwh": "22.5",
    "charging_hours": "1",
    "parking_hours": "0",
    "plan": "Pay as you go",
    "currency": "EUR",
    "lines": [
        {
            "kind": "cost",
            "description": "charging (CPO price)",
            "quantity": "1",
            "unit_price": "9.00",
            "amount": "9.00",
        },
        {"kind": "markup", "description": "markup 10 %", "quantity": "9.00", "unit_price": "0.1", "amount": "0.900"},
    ],
    "excl_vat": "9.90",
    "vat_rate": "21",
    "vat": "2.08",
    "incl_vat": "11.98",
    "is_credit": False,
    "invoice": {"id": 77, "number": "INV-2026-000123"},
}


class ChargesView(DriverView):
    pagination_class = ChargePagination

    @extend_schema(
        operation_id="history_charges_list",
        summary="What your sessions cost you, newest first",
        description="One per operator's record (CDR): the breakdown under your plan, VAT and the total you pay.",
        tags=["History"],
        responses={200: ChargeOut(many=True), **errors(401, 403, 404)},
        examples=[
            OpenApiExample("A page", value={"next": None, "previous": None, "results": [_CHARGE]}, response_only=True)
        ],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(driver_charges(self.driver(request)), request, view=self)
        assert page is not None
        return paginator.get_paginated_response(ChargeOut([_charge(c) for c in page], many=True).data)


class ChargeView(DriverView):
    @extend_schema(
        operation_id="history_charge_get",
        summary="What one session cost you",
        tags=["History"],
        responses={200: ChargeOut, **errors(401, 403, 404)},
        examples=[OpenApiExample("A charge", value=_CHARGE, response_only=True)],
    )
    def get(self, request: Request, charge_id: int) -> Response:
        charge = driver_charges(self.driver(request)).filter(pk=charge_id).first()
        if charge is None:
            raise NotFound("No such charge.")
        return Response(ChargeOut(_charge(charge)).data)


# --- invoices ---------------------------------------------------------------------------------------------


class InvoiceItemOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    kind = serializers.ChoiceField(choices=Invoice.Kind.choices)
    period = serializers.DateField(allow_null=True, help_text="The month invoiced (its first day).")
    issue_date = serializers.DateField()
    due_date = serializers.DateField()
    currency = serializers.CharField()
    total_excl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_incl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.ChoiceField(choices=Invoice.Status.choices)
    balance = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="Still to be paid.")
    pdf = serializers.SerializerMethodField(help_text="GET it for the PDF.")

    def get_pdf(self, invoice: Invoice) -> str:
        return f"/api/v1/invoices/{invoice.pk}/pdf"


class InvoiceLineOut(serializers.Serializer):
    position = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=InvoiceLine.Kind.choices)
    description = serializers.CharField()
    supplied_on = serializers.DateField(allow_null=True)
    location = serializers.CharField(allow_blank=True)
    energy_kwh = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)
    duration_hours = serializers.DecimalField(max_digits=14, decimal_places=6, allow_null=True)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=6)
    unit_price_excl_vat = serializers.DecimalField(max_digits=12, decimal_places=4)
    amount_excl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2)
    charge_id = serializers.IntegerField(allow_null=True, help_text="GET /history/charges/{id} for its breakdown.")


class VatOut(serializers.Serializer):
    rate = serializers.CharField()
    taxable = serializers.CharField()
    vat = serializers.CharField()


class InvoiceOut(InvoiceItemOut):
    customer_name = serializers.CharField()
    customer_address = serializers.CharField(allow_blank=True)
    vat_summary = VatOut(many=True)
    credited_invoice_id = serializers.IntegerField(allow_null=True, help_text="A credit note: the invoice it corrects.")
    lines = InvoiceLineOut(many=True)


_INVOICE_ITEM = {
    "id": 77,
    "number": "INV-2026-000123",
    "kind": "INVOICE",
    "period": "2026-03-01",
    "issue_date": "2026-04-01",
    "due_date": "2026-04-15",
    "currency": "EUR",
    "total_excl_vat": "9.90",
    "total_vat": "2.08",
    "total_incl_vat": "11.98",
    "status": "OPEN",
    "balance": "11.98",
    "pdf": "/api/v1/invoices/77/pdf",
}
_INVOICE = {
    **_INVOICE_ITEM,
    "customer_name": "Ann Smit",
    "customer_address": "Damrak 1\n1012 LG Amsterdam",
    "vat_summary": [{"rate": "21", "taxable": "9.90", "vat": "2.08"}],
    "credited_invoice_id": None,
    "lines": [
        {
            "position": 1,
            "kind": "SESSION",
            "description": "Charging session",
            "supplied_on": "2026-03-02",
            "location": "Central Garage, Stationsplein 1, Amsterdam",
            "energy_kwh": "22.500000",
            "duration_hours": "1.000000",
            "quantity": "1.000000",
            "unit_price_excl_vat": "9.9000",
            "amount_excl_vat": "9.90",
            "vat_rate": "21.00",
            "charge_id": 5678,
        }
    ],
}


class InvoicesView(DriverView):
    pagination_class = InvoicePagination

    @extend_schema(
        operation_id="invoices_list",
        summary="Your invoices and credit notes, newest first",
        tags=["History"],
        responses={200: InvoiceItemOut(many=True), **errors(401, 403, 404)},
        examples=[
            OpenApiExample(
                "A page", value={"next": None, "previous": None, "results": [_INVOICE_ITEM]}, response_only=True
            )
        ],
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(driver_invoices(self.driver(request)), request, view=self)
        assert page is not None
        return paginator.get_paginated_response(InvoiceItemOut(page, many=True).data)


class InvoiceView(DriverView):
    @extend_schema(
        operation_id="invoice_get",
        summary="One invoice with its lines",
        tags=["History"],
        responses={200: InvoiceOut, **errors(401, 403, 404)},
        examples=[OpenApiExample("An invoice", value=_INVOICE, response_only=True)],
    )
    def get(self, request: Request, invoice_id: int) -> Response:
        invoice = driver_invoice(self.driver(request), invoice_id)
        if invoice is None:
            raise NotFound("No such invoice.")
        return Response(InvoiceOut(invoice).data)


class PdfRenderer(renderers.BaseRenderer):
    """Lets the app ask for `Accept: application/pdf`; the PDF itself is a file response. An error is JSON."""

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return renderers.JSONRenderer().render(data)


class InvoicePdfView(DriverView):
    renderer_classes = (renderers.JSONRenderer, PdfRenderer)

    @extend_schema(
        operation_id="invoice_pdf",
        summary="The invoice as a PDF",
        description="The invoice as it was sent (rendered once, on the first request if not before).",
        tags=["History"],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
            **errors(401, 403, 404),
        },
    )
    def get(self, request: Request, invoice_id: int) -> FileResponse:
        invoice = driver_invoices(self.driver(request)).filter(pk=invoice_id).first()
        if invoice is None:
            raise NotFound("No such invoice.")
        invoice_document_store(invoice=invoice)
        return FileResponse(
            invoice.document.open("rb"), content_type="application/pdf", filename=f"{invoice.number}.pdf"
        )
