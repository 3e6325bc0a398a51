"""The price before charging: what a session at a connector will cost this driver under their plan, incl. VAT,
with its breakdown. Computed by `billing.estimates.price_estimate`, the way the session's charge will be, so
the price shown and the invoice line agree for the same energy, time and start."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ErrorBody, Unprocessable, error_body
from api.schema import errors
from api.views.base import DriverView
from billing.estimates import Estimate, EstimateError, price_estimate
from roaming.models import Connector
from roaming.selectors import connector_visible

#: What the app is told when no price can be given, by `EstimateError.reason`.
_NO_PRICE = {
    "no_plan": "You have no plan yet: choose one to see prices.",
    "no_tariff": "The operator has not told us the price of this charger yet.",
    "no_price": "We cannot give a price for this charger right now.",
}

#: Ids are 64-bit (BigAutoField): a larger one is a validation error, not a database error.
MAX_ID = 2**63 - 1


class PriceQuery(serializers.Serializer):
    connector = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Our id of the connector. Or give `location`, `evse_uid` and `connector_id`.",
    )
    location = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Our id of the location."
    )
    evse_uid = serializers.CharField(max_length=36, required=False, help_text="The EVSE's uid at that location.")
    connector_id = serializers.CharField(max_length=36, required=False, help_text="The connector's id on that EVSE.")
    energy_kwh = serializers.DecimalField(
        max_digits=7,
        decimal_places=3,
        min_value=Decimal("0"),
        max_value=Decimal("1000"),
        required=False,
        help_text="Expected energy; default: by the connector's power class (AC 11, DC 30, HPC 45 kWh).",
    )
    minutes = serializers.IntegerField(
        min_value=1,
        max_value=24 * 60,
        required=False,
        help_text="Expected charging time; default: by power class (AC 120, DC 40, HPC 25 min).",
    )
    parking_minutes = serializers.IntegerField(
        min_value=0, max_value=24 * 60, default=0, help_text="Staying plugged in after charging (idle fees)."
    )
    start = serializers.DateTimeField(
        required=False, help_text="When you plan to start (up to 30 days ahead); default: now."
    )

    def validate_start(self, value: datetime) -> datetime:
        now = timezone.now()
        if not now - timedelta(days=1) <= value <= now + timedelta(days=30):
            raise serializers.ValidationError("Give a start between now and 30 days ahead.", code="out_of_range")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        by_ids = ("location", "evse_uid", "connector_id")
        given = [name for name in by_ids if name in attrs]
        if "connector" in attrs:
            if given:
                raise serializers.ValidationError(
                    {
                        name: ["Give either `connector` or the three of `location`, `evse_uid` and `connector_id`."]
                        for name in given
                    }
                )
        elif len(given) < len(by_ids):
            missing = [name for name in by_ids if name not in attrs] if given else ["connector"]
            raise serializers.ValidationError({name: ["This field is required."] for name in missing})
        return attrs


class PriceLineOut(serializers.Serializer):
    kind = serializers.CharField(
        help_text="cost (the operator's price), markup, per_kwh, energy, time, session_fee or idle_fee."
    )
    description = serializers.CharField()
    quantity = serializers.CharField(help_text="A decimal: kWh, hours, minutes or 1.")
    unit_price = serializers.CharField(help_text="A decimal, excl. VAT.")
    amount = serializers.CharField(help_text="A decimal, excl. VAT, unrounded (the totals are rounded once).")


class PricedPlanOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PriceOut(serializers.Serializer):
    connector = serializers.IntegerField(source="connector.pk")
    location = serializers.IntegerField(source="connector.evse.location_id")
    evse_uid = serializers.CharField(source="connector.evse.uid")
    connector_id = serializers.CharField(source="connector.ocpi_id")
    power_class = serializers.CharField(help_text="AC, DC (up to 150 kW) or HPC.")
    plan = PricedPlanOut()
    start = serializers.DateTimeField()
    energy_kwh = serializers.DecimalField(max_digits=12, decimal_places=4)
    minutes = serializers.IntegerField()
    parking_minutes = serializers.IntegerField()
    currency = serializers.CharField()
    total_excl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2, help_text="Percent, of your country.")
    vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    total_incl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    lines = PriceLineOut(many=True, help_text="The breakdown excl. VAT; their sum rounded is `total_excl_vat`.")
    notes = serializers.ListField(child=serializers.CharField())


def _price(connector: Connector, estimate: Estimate, minutes: int, parking_minutes: int) -> dict[str, Any]:
    return {
        "connector": connector,
        "power_class": estimate.power_class,
        "plan": estimate.plan,
        "start": estimate.start,
        "energy_kwh": estimate.facts.energy_kwh,
        "minutes": minutes,
        "parking_minutes": parking_minutes,
        "currency": estimate.currency,
        "total_excl_vat": estimate.totals.excl_vat,
        "vat_rate": estimate.vat_rate,
        "vat": estimate.totals.vat,
        "total_incl_vat": estimate.totals.incl_vat,
        "lines": estimate.retail.lines_json(),
        "notes": list(estimate.retail.notes),
    }


_EXAMPLE = {
    "connector": 5120,
    "location": 311,
    "evse_uid": "3256",
    "connector_id": "1",
    "power_class": "AC",
    "plan": {"id": 1, "name": "Flex"},
    "start": "2026-11-10T10:00:00Z",
    "energy_kwh": "12.5000",
    "minutes": 90,
    "parking_minutes": 45,
    "currency": "EUR",
    "total_excl_vat": "10.65",
    "vat_rate": "21.00",
    "vat": "2.24",
    "total_incl_vat": "12.89",
    "lines": [
        {
            "kind": "cost",
            "description": "charging (CPO price)",
            "quantity": "1",
            "unit_price": "6.1300",
            "amount": "6.1300",
        },
        {
            "kind": "markup",
            "description": "markup 15 %",
            "quantity": "6.1300",
            "unit_price": "0.15",
            "amount": "0.919500",
        },
        {
            "kind": "per_kwh",
            "description": "markup per kWh",
            "quantity": "12.5000",
            "unit_price": "0.0200",
            "amount": "0.25000000",
        },
        {
            "kind": "session_fee",
            "description": "session fee",
            "quantity": "1",
            "unit_price": "0.3500",
            "amount": "0.3500",
        },
        {
            "kind": "idle_fee",
            "description": "idle fee (minutes beyond 15 min)",
            "quantity": "30.0000",
            "unit_price": "0.1000",
            "amount": "3.00000000",
        },
    ],
    "notes": [],
}


class PriceView(DriverView):
    @extend_schema(
        operation_id="price_get",
        summary="The price before charging",
        description="What charging at a connector will cost you under your plan, incl. VAT of your country, "
        "with its breakdown. Name the connector by our id (`connector`) or by `location`, `evse_uid` and "
        "`connector_id`; energy and time default by the connector's power class.",
        tags=["Prices"],
        parameters=[PriceQuery],
        responses={
            200: PriceOut,
            **errors(400, 401, 403, 404),
            422: OpenApiResponse(
                ErrorBody,
                description="No price can be given (no plan, or the operator's tariff is not known)",
                examples=[
                    OpenApiExample(f"{code}", value=error_body(422, code, message))
                    for code, message in _NO_PRICE.items()
                ],
            ),
        },
        examples=[OpenApiExample("90 minutes, then 45 parked", value=_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        query = PriceQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        given = query.validated_data
        connector = connector_visible(
            pk=given.get("connector"),
            location_pk=given.get("location"),
            evse_uid=given.get("evse_uid", ""),
            connector_id=given.get("connector_id", ""),
        )
        if connector is None:
            raise NotFound("No such charger.", code="no_connector")
        duration = timedelta(minutes=given["minutes"]) if "minutes" in given else None
        parking = timedelta(minutes=given["parking_minutes"])
        try:
            estimate = price_estimate(
                connector=connector,
                driver=self.driver(request),
                energy_kwh=given.get("energy_kwh"),
                duration=duration,
                parking=parking,
                at=given.get("start"),
            )
        except EstimateError as exc:
            raise Unprocessable(_NO_PRICE.get(exc.reason, _NO_PRICE["no_price"]), code=exc.reason) from exc
        minutes = given.get("minutes") or round(estimate.facts.charging_hours * 60)
        return Response(PriceOut(_price(connector, estimate, minutes, given["parking_minutes"])).data)
