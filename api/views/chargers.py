"""Chargers: the ones near me, the ones on the map, and one location's detail with this driver's price.

Only what the CPOs publish shows (`roaming.selectors_chargers`): unpublished locations and removed EVSEs never
appear, and an unknown or unpublished location's id is simply not found (404).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import django_filters
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import PagePagination
from api.schema import errors
from api.views.base import DriverView
from billing.estimates import Estimate, EstimateError, price_estimate
from drivers.models import Driver
from roaming.models import Connector, Location, Tariff
from roaming.ocpi.v2_2_1.locations import ConnectorType
from roaming.selectors_chargers import (
    AC,
    DC,
    MAX_RADIUS_M,
    NEAR_LIMIT,
    Box,
    ChargerFilters,
    LocationSummary,
    Near,
    location_cells,
    location_for_driver,
    location_summaries,
    locations_by_id,
    locations_in_box,
    locations_near,
    power_w,
    tariffs_of_location,
)

TAGS = ["Chargers"]
KW_PLACES = Decimal("0.1")
#: From this zoom level on the map shows pins; below it, counts per grid cell.
PIN_ZOOM = 12
#: The most pins one map answer holds; beyond it `truncated` is true and the app zooms in or narrows down.
MAX_PINS = 500


def cell_degrees(zoom: int) -> float:
    """The grid cell of a zoom level: about a quarter of a 256-pixel map tile (64 pixels) on each side."""
    return 90.0 / 2**zoom


# --- Filters --------------------------------------------------------------------------------------------


class ChargerFilterSet(django_filters.FilterSet):
    """The filters of the near-me list and the map. Connector conditions hold for one connector together."""

    standard = django_filters.MultipleChoiceFilter(
        choices=[(c.value, c.value) for c in ConnectorType],
        help_text="Connector standard(s), OCPI ConnectorType; repeat for any of several.",
    )
    min_power_kw = django_filters.NumberFilter(
        min_value=Decimal(0), max_value=Decimal(1000), help_text="A connector of at least this power, in kW."
    )
    current = django_filters.ChoiceFilter(choices=[(AC, AC), (DC, DC)], help_text="A connector of AC or DC.")
    available = django_filters.BooleanFilter(help_text="true: an EVSE that is AVAILABLE now.")
    partner = django_filters.NumberFilter(
        min_value=1,
        max_value=2**63 - 1,
        decimal_places=0,
        help_text="Of this partner (a result's `operator.partner_id`).",
    )
    operator = django_filters.CharFilter(max_length=100, help_text="Of this operator (name, any case).")
    q = django_filters.CharFilter(max_length=100, help_text="Text in the name, address or city.")

    class Meta:
        model = Location
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        # The selectors apply the filters (in one EXISTS per location): see `charger_filters`.
        return queryset

    def charger_filters(self) -> ChargerFilters:
        data = self.form.cleaned_data
        return ChargerFilters(
            standards=tuple(data.get("standard") or ()),
            min_power_kw=data.get("min_power_kw"),
            current=data.get("current") or "",
            available=bool(data.get("available")),
            partner_id=int(data["partner"]) if data.get("partner") is not None else None,
            operator=(data.get("operator") or "").strip(),
            text=(data.get("q") or "").strip(),
        )


class FilteredView(DriverView, GenericAPIView):
    """A charger search: its filters are the FilterSet's, read and validated by the django-filter backend."""

    queryset = Location.objects.none()
    filter_backends = (DjangoFilterBackend,)
    filterset_class = ChargerFilterSet

    def charger_filters(self, request: Request) -> ChargerFilters:
        filterset = DjangoFilterBackend().get_filterset(request, self.queryset, self)
        assert isinstance(filterset, ChargerFilterSet)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        return filterset.charger_filters()


# --- Output shared by the lists -------------------------------------------------------------------------


class OperatorOut(serializers.Serializer):
    partner_id = serializers.IntegerField()
    name = serializers.CharField(help_text="The operator the CPO names, else the partner's name.")


def _operator(location: Location) -> dict[str, Any]:
    return {"partner_id": location.partner_id, "name": location.operator_name or location.partner.name}


class SummaryOut(serializers.Serializer):
    evses = serializers.IntegerField(help_text="EVSEs (charge points) to charge at.")
    available = serializers.IntegerField(help_text="Of those, AVAILABLE now.")
    max_power_kw = serializers.DecimalField(max_digits=8, decimal_places=1, allow_null=True)
    standards = serializers.ListField(child=serializers.CharField(), help_text="Connector standards, OCPI.")
    currents = serializers.ListField(child=serializers.CharField(), help_text="AC and/or DC.")


class LocationListItem(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    city = serializers.CharField()
    latitude = serializers.DecimalField(max_digits=10, decimal_places=7)
    longitude = serializers.DecimalField(max_digits=10, decimal_places=7)
    operator = OperatorOut()
    summary = SummaryOut()


def _list_item(location: Location, summary: LocationSummary) -> dict[str, Any]:
    """A `LocationListItem` as its JSON, built directly: a page of 20 through the nested serializers cost more
    Python than the rest of a "near me" answer (bench/chargers_bench.py); tests hold the two to one shape."""
    max_kw = summary.max_power_kw
    return {
        "id": location.pk,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "latitude": str(location.latitude),
        "longitude": str(location.longitude),
        "operator": _operator(location),
        "summary": {
            "evses": summary.evses,
            "available": summary.available,
            "max_power_kw": str(max_kw.quantize(KW_PLACES, ROUND_HALF_UP)) if max_kw is not None else None,
            "standards": summary.standards,
            "currents": summary.currents,
        },
    }


_ITEM_EXAMPLE = {
    "id": 1204,
    "name": "Central Garage",
    "address": "Stationsplein 1",
    "city": "Amsterdam",
    "latitude": "52.3791000",
    "longitude": "4.9003000",
    "operator": {"partner_id": 3, "name": "CPO One"},
    "summary": {"evses": 4, "available": 2, "max_power_kw": "50.0", "standards": ["IEC_62196_T2", "IEC_62196_T2_COMBO"],
                "currents": ["AC", "DC"]},
}  # fmt: skip


# --- Near me --------------------------------------------------------------------------------------------


class NearQuery(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90, help_text="Your latitude (WGS 84).")
    lon = serializers.FloatField(min_value=-180, max_value=180, help_text="Your longitude (WGS 84).")
    radius = serializers.IntegerField(
        min_value=1, max_value=MAX_RADIUS_M, default=5000, help_text=f"In metres, at most {MAX_RADIUS_M}."
    )


class NearItem(LocationListItem):
    distance_m = serializers.IntegerField(help_text="From your position, in metres (great circle).")


class NearView(FilteredView):
    pagination_class = PagePagination

    @extend_schema(
        operation_id="chargers_near",
        summary="Chargers near you, nearest first",
        description=f"The nearest {NEAR_LIMIT} locations within `radius` metres of your position, nearest "
        "first, with the distance; paginated (`page`, `page_size` up to 100). Filters narrow them down; "
        "connector filters hold for one connector together.",
        tags=TAGS,
        parameters=[NearQuery],
        filters=True,
        responses={200: NearItem(many=True), **errors(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Two chargers near Amsterdam Centraal",
                value={
                    "count": 2,
                    "next": None,
                    "previous": None,
                    "results": [
                        _ITEM_EXAMPLE | {"distance_m": 140},
                        _ITEM_EXAMPLE | {"id": 877, "name": "Prins Hendrikkade", "distance_m": 610},
                    ],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = NearQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = locations_near(
            latitude=query.validated_data["lat"],
            longitude=query.validated_data["lon"],
            radius_m=query.validated_data["radius"],
            filters=self.charger_filters(request),
        )
        page: list[Near] = self.paginate_queryset(found) or []  # type: ignore[arg-type]
        ids = [near.location_id for near in page]
        locations = locations_by_id(location_ids=ids)
        summaries = location_summaries(location_ids=ids)
        items = [
            _list_item(locations[near.location_id], summaries[near.location_id])
            | {"distance_m": round(near.distance_m)}
            for near in page
        ]
        return self.get_paginated_response(items)


# --- Map ------------------------------------------------------------------------------------------------


class MapQuery(serializers.Serializer):
    south = serializers.FloatField(min_value=-90, max_value=90)
    west = serializers.FloatField(min_value=-180, max_value=180)
    north = serializers.FloatField(min_value=-90, max_value=90)
    east = serializers.FloatField(min_value=-180, max_value=180)
    zoom = serializers.IntegerField(min_value=0, max_value=22, help_text=f"Pins from zoom {PIN_ZOOM} on.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["south"] > attrs["north"]:
            raise serializers.ValidationError({"south": ["Must not be north of `north`."]})
        if attrs["west"] > attrs["east"]:
            raise serializers.ValidationError({"west": ["Must not be east of `east` (split a box across 180°)."]})
        return attrs


class PinOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    latitude = serializers.DecimalField(max_digits=10, decimal_places=7)
    longitude = serializers.DecimalField(max_digits=10, decimal_places=7)
    operator = OperatorOut()


class CellOut(serializers.Serializer):
    count = serializers.IntegerField(help_text="Locations in the cell.")
    latitude = serializers.FloatField(help_text="Their mean position: where to draw the cell's marker.")
    longitude = serializers.FloatField()
    south = serializers.FloatField()
    west = serializers.FloatField()
    north = serializers.FloatField()
    east = serializers.FloatField()


class MapOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["pins", "cells"], help_text=f"pins from zoom {PIN_ZOOM} on, else cells.")
    pins = PinOut(many=True)
    truncated = serializers.BooleanField(help_text=f"More than {MAX_PINS} pins: zoom in or narrow the filters.")
    cells = CellOut(many=True)
    cell_degrees = serializers.FloatField(allow_null=True, help_text="The side of a grid cell, in degrees.")


class MapView(FilteredView):
    @extend_schema(
        operation_id="chargers_map",
        summary="Chargers on the map",
        description=f"The chargers in a bounding box: from zoom {PIN_ZOOM} on a pin each (at most {MAX_PINS}), "
        "below it the number of locations per grid cell (cells fixed to the globe, counted in the database).",
        tags=TAGS,
        parameters=[MapQuery],
        filters=True,
        responses={200: MapOut, **errors(400, 401, 403)},
        examples=[
            OpenApiExample(
                "Zoomed in: pins",
                value={
                    "kind": "pins",
                    "truncated": False,
                    "cells": [],
                    "cell_degrees": None,
                    "pins": [
                        {
                            "id": 1204,
                            "name": "Central Garage",
                            "latitude": "52.3791000",
                            "longitude": "4.9003000",
                            "operator": {"partner_id": 3, "name": "CPO One"},
                        }
                    ],
                },
                response_only=True,
            ),
            OpenApiExample(
                "Zoomed out: counts per cell",
                value={
                    "kind": "cells",
                    "truncated": False,
                    "pins": [],
                    "cell_degrees": 0.3515625,
                    "cells": [
                        {
                            "count": 214,
                            "latitude": 52.361,
                            "longitude": 4.889,
                            "south": 52.3125,
                            "west": 4.5703125,
                            "north": 52.6640625,
                            "east": 4.921875,
                        }
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        query = MapQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        box = Box(south=data["south"], west=data["west"], north=data["north"], east=data["east"])
        filters = self.charger_filters(request)
        body: dict[str, Any] = {"pins": [], "cells": [], "truncated": False, "cell_degrees": None}
        if data["zoom"] >= PIN_ZOOM:
            pins = list(locations_in_box(box=box, filters=filters)[: MAX_PINS + 1])
            body |= {"kind": "pins", "truncated": len(pins) > MAX_PINS}
            body["pins"] = [
                {"id": p.pk, "name": p.name, "latitude": p.latitude, "longitude": p.longitude,
                 "operator": _operator(p)}
                for p in pins[:MAX_PINS]
            ]  # fmt: skip
        else:
            size = cell_degrees(data["zoom"])
            body |= {"kind": "cells", "cell_degrees": size}
            body["cells"] = [
                {"count": c.count, "latitude": c.latitude, "longitude": c.longitude, "south": c.row * size,
                 "west": c.column * size, "north": (c.row + 1) * size, "east": (c.column + 1) * size}
                for c in location_cells(box=box, cell_degrees=size, filters=filters)
            ]  # fmt: skip
        return Response(MapOut(body).data)


# --- A location's detail --------------------------------------------------------------------------------


class DisplayTextOut(serializers.Serializer):
    language = serializers.CharField()
    text = serializers.CharField()


class TypicalPriceOut(serializers.Serializer):
    currency = serializers.CharField()
    excl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    incl_vat = serializers.DecimalField(max_digits=12, decimal_places=2)
    plan = serializers.CharField(help_text="Your plan, whose prices these are.")
    energy_kwh = serializers.DecimalField(max_digits=10, decimal_places=4, help_text="For a typical session of ...")
    minutes = serializers.IntegerField(help_text="... charging this long (the price before charging gives others).")


class ConnectorOut(serializers.Serializer):
    id = serializers.IntegerField()
    connector_id = serializers.CharField(help_text="The CPO's id of the connector on its EVSE.")
    standard = serializers.CharField()
    format = serializers.CharField()
    power_type = serializers.CharField()
    current = serializers.ChoiceField(choices=[AC, DC])
    max_power_kw = serializers.DecimalField(max_digits=8, decimal_places=1)
    tariff_text = DisplayTextOut(many=True, help_text="The CPO's own words on its price, in the languages it gives.")
    price = TypicalPriceOut(allow_null=True, help_text="What a typical session costs you, incl. VAT; null: see below.")
    price_unavailable = serializers.CharField(allow_null=True, help_text="Why there is no price, when there is none.")


class EvseOut(serializers.Serializer):
    id = serializers.IntegerField()
    uid = serializers.CharField()
    evse_id = serializers.CharField()
    status = serializers.CharField(help_text="Live, as the CPO last reported it (OCPI EVSE status).")
    status_updated = serializers.DateTimeField(source="last_updated")
    floor_level = serializers.CharField()
    physical_reference = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())
    connectors = ConnectorOut(many=True)


class RegularHoursOut(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="1 = Monday ... 7 = Sunday.")
    period_begin = serializers.CharField()
    period_end = serializers.CharField()


class PeriodOut(serializers.Serializer):
    period_begin = serializers.DateTimeField()
    period_end = serializers.DateTimeField()


class OpeningTimesOut(serializers.Serializer):
    twentyfourseven = serializers.BooleanField()
    regular_hours = RegularHoursOut(many=True, required=False)
    exceptional_openings = PeriodOut(many=True, required=False)
    exceptional_closings = PeriodOut(many=True, required=False)


class LocationOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166 alpha-3.")
    latitude = serializers.DecimalField(max_digits=10, decimal_places=7)
    longitude = serializers.DecimalField(max_digits=10, decimal_places=7)
    time_zone = serializers.CharField()
    parking_type = serializers.CharField()
    operator = OperatorOut()
    facilities = serializers.ListField(child=serializers.CharField())
    opening_times = OpeningTimesOut(allow_null=True, help_text="null: no hours given (open around the clock).")
    charging_when_closed = serializers.BooleanField()
    evses = EvseOut(many=True)


_DETAIL_EXAMPLE = {
    "id": 1204,
    "name": "Central Garage",
    "address": "Stationsplein 1",
    "postal_code": "1012 AB",
    "city": "Amsterdam",
    "state": "",
    "country": "NLD",
    "latitude": "52.3791000",
    "longitude": "4.9003000",
    "time_zone": "Europe/Amsterdam",
    "parking_type": "PARKING_GARAGE",
    "operator": {"partner_id": 3, "name": "CPO One"},
    "facilities": ["TRAIN_STATION", "CAFE"],
    "opening_times": {"twentyfourseven": False, "regular_hours": [
        {"weekday": 1, "period_begin": "07:00", "period_end": "23:00"}]},
    "charging_when_closed": True,
    "evses": [
        {"id": 5501, "uid": "3256", "evse_id": "NL*CPO*E3256", "status": "AVAILABLE",
         "status_updated": "2026-12-01T09:14:02Z", "floor_level": "-1", "physical_reference": "A1",
         "capabilities": ["REMOTE_START_STOP_CAPABLE", "RFID_READER"],
         "connectors": [
             {"id": 9120, "connector_id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",
              "power_type": "AC_3_PHASE", "current": "AC", "max_power_kw": "11.0",
              "tariff_text": [{"language": "en", "text": "0.25 EUR/kWh, 2.00 EUR/h"}],
              "price": {"currency": "EUR", "excl_vat": "4.75", "vat": "1.00", "incl_vat": "5.75",
                        "plan": "Pay as you go", "energy_kwh": "11.0000", "minutes": 120},
              "price_unavailable": None}]},
    ],
}  # fmt: skip


class _Prices:
    """This driver's price of a typical session per connector. Connectors alike in what the price depends on
    (tariffs named, current and power class) share one estimate: a site of 20 connectors asks once or twice."""

    def __init__(self, driver: Driver, location: Location) -> None:
        self.driver = driver
        self.location = location
        self.known: dict[tuple[Any, ...], tuple[Estimate | None, str | None]] = {}

    def of(self, connector: Connector) -> tuple[Estimate | None, str | None]:
        key = (tuple(connector.tariff_ids or ()), connector.power_type, connector.max_electric_power)
        if key not in self.known:
            try:
                self.known[key] = (price_estimate(connector=connector, driver=self.driver), None)
            except EstimateError:
                self.known[key] = (None, "The operator's price for this connector is not known to us yet.")
        return self.known[key]


def _price(estimate: Estimate) -> dict[str, Any]:
    return {
        "currency": estimate.currency,
        "excl_vat": estimate.totals.excl_vat,
        "vat": estimate.totals.vat,
        "incl_vat": estimate.totals.incl_vat,
        "plan": estimate.plan.name,
        "energy_kwh": estimate.facts.energy_kwh,
        "minutes": round(estimate.facts.charging_hours * 60),
    }


def _tariff_text(connector: Connector, tariffs: dict[str, Tariff]) -> list[dict[str, str]]:
    for tariff_id in connector.tariff_ids or []:
        if tariff_id in tariffs:
            return [t for t in tariffs[tariff_id].alt_text or [] if isinstance(t, dict)]
    return []


def _detail(location: Location, driver: Driver) -> dict[str, Any]:
    tariffs = tariffs_of_location(location)
    prices = _Prices(driver, location)
    evses = []
    for evse in location.evses.all():
        connectors = []
        for connector in evse.connectors.all():
            estimate, unavailable = prices.of(connector)
            connectors.append(
                {
                    "id": connector.pk,
                    "connector_id": connector.ocpi_id,
                    "standard": connector.standard,
                    "format": connector.format,
                    "power_type": connector.power_type,
                    "current": DC if connector.power_type.startswith("DC") else AC,
                    "max_power_kw": Decimal(power_w(connector)) / 1000,
                    "tariff_text": _tariff_text(connector, tariffs),
                    "price": _price(estimate) if estimate else None,
                    "price_unavailable": unavailable,
                }
            )
        evses.append(
            {
                "id": evse.pk,
                "uid": evse.uid,
                "evse_id": evse.evse_id,
                "status": evse.status,
                "last_updated": evse.last_updated,
                "floor_level": evse.floor_level,
                "physical_reference": evse.physical_reference,
                "capabilities": evse.capabilities or [],
                "connectors": connectors,
            }
        )
    fields = ("name", "address", "postal_code", "city", "state", "country", "latitude", "longitude", "time_zone",
              "parking_type", "charging_when_closed")  # fmt: skip
    return {field: getattr(location, field) for field in fields} | {
        "id": location.pk,
        "operator": _operator(location),
        "facilities": location.facilities or [],
        "opening_times": location.opening_times,
        "evses": evses,
    }


class LocationView(DriverView):
    @extend_schema(
        operation_id="chargers_location",
        summary="A location: its chargers, their live status and your price",
        description="Address, opening hours, facilities, and each EVSE with its live status and connectors; "
        "per connector the CPO's tariff text and what a typical session there costs you under your plan "
        "(the price before charging gives it for your own energy and time).",
        tags=TAGS,
        parameters=[OpenApiParameter("location_id", int, OpenApiParameter.PATH, description="A location's `id`.")],
        responses={200: LocationOut, **errors(401, 403, 404)},
        examples=[OpenApiExample("A garage with one AC charger", value=_DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, location_id: int) -> Response:
        location = location_for_driver(location_id=location_id)
        if location is None:
            raise Http404
        return Response(LocationOut(_detail(location, self.driver(request))).data)
