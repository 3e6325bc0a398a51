"""Reads for the driver app's charger search: near a point, in a map's box, counted per grid cell, and one
location's detail. Only what the CPOs publish: a location with `publish` false or no longer listed
(`removed_at`) never shows, nor does an EVSE with status REMOVED (or no longer listed), nor its connectors; a
location left with no EVSE to charge at does not show either.

Distances are great-circle (haversine) in SQL on plain latitude/longitude columns, after a bounding-box
prefilter on the partial index `location_published_coordinates` (latitude, longitude, id of the published
locations): the candidates and their distances come from the index alone, and only the nearest are then
checked for a visible EVSE and the filters (`locations_near`). No GIS extension is needed, and the same
queries run on SQLite (Django registers the math functions there). Figures: `bench/chargers_bench.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Floor

from roaming.models import Connector, Evse, EvseStatus, Location, Tariff

#: The mean earth radius (IUGG), in metres.
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE_LAT = math.pi * EARTH_RADIUS_M / 180
#: The widest "near me" search: beyond it a driver wants the map, and the box would read too much of the index.
MAX_RADIUS_M = 50_000
#: "Near me" lists at most the nearest this many: a driver scrolls through a few pages, not through thousands.
NEAR_LIMIT = 100
#: Published locations in the circle read at once (ids and distances only), nearest first.
CANDIDATES = 5_000


AC, DC = "AC", "DC"


@dataclass(frozen=True)
class ChargerFilters:
    """What a driver narrows the chargers down to. The connector conditions hold for ONE connector together
    (a CCS2 connector of 50 kW and more, on an EVSE available now), not each on some connector of the site."""

    standards: tuple[str, ...] = ()
    min_power_kw: Decimal | None = None
    current: str = ""  # AC or DC: OCPI's power_type AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE, DC
    available: bool = False
    partner_id: int | None = None
    operator: str = ""
    text: str = ""

    @property
    def on_connector(self) -> bool:
        return bool(self.standards or self.min_power_kw is not None or self.current or self.available)


@dataclass(frozen=True)
class Box:
    """A bounding box in degrees; `west` <= `east` (boxes across the antimeridian are not supported)."""

    south: float
    west: float
    north: float
    east: float


@dataclass(frozen=True)
class Cell:
    """The visible locations of one grid cell: how many, and where their mean position is (for the marker)."""

    row: int
    column: int
    count: int
    latitude: float
    longitude: float


@dataclass
class LocationSummary:
    """What a result list shows of a location's EVSEs: how many, how many are available now, the fastest."""

    evses: int = 0
    available: int = 0
    max_power_kw: Decimal | None = None
    standards: list[str] = field(default_factory=list)
    currents: list[str] = field(default_factory=list)


def connector_power_w() -> Coalesce:
    """A connector's maximum power in W: as the CPO states it, else voltage x amperage (x 3 on three phases,
    where OCPI's max_voltage is the voltage of one phase to neutral)."""
    phases = Case(When(power_type="AC_3_PHASE", then=Value(3)), default=Value(1), output_field=IntegerField())
    return Coalesce(F("max_electric_power"), F("max_voltage") * F("max_amperage") * phases, output_field=IntegerField())


def power_w(connector: Connector) -> int:
    """The same as `connector_power_w`, of a loaded connector."""
    if connector.max_electric_power is not None:
        return connector.max_electric_power
    phases = 3 if connector.power_type == "AC_3_PHASE" else 1
    return connector.max_voltage * connector.max_amperage * phases


def _visible_evses() -> QuerySet[Evse]:
    return Evse.objects.filter(removed_at__isnull=True).exclude(status=EvseStatus.REMOVED)


def _visible_connectors() -> QuerySet[Connector]:
    return Connector.objects.filter(removed_at__isnull=True, evse__removed_at__isnull=True).exclude(
        evse__status=EvseStatus.REMOVED
    )


def locations_filter(locations: QuerySet[Location], *, filters: ChargerFilters) -> QuerySet[Location]:
    """`locations` narrowed to those with a visible EVSE (and a connector meeting the connector conditions),
    of the partner or operator asked for, and matching the text in name, address or city."""
    if filters.on_connector:
        connectors = _visible_connectors().filter(evse__location=OuterRef("pk"))
        if filters.standards:
            connectors = connectors.filter(standard__in=filters.standards)
        if filters.current == DC:
            connectors = connectors.filter(power_type__startswith="DC")
        elif filters.current == AC:
            connectors = connectors.filter(power_type__startswith="AC")
        if filters.min_power_kw is not None:
            connectors = connectors.alias(power=connector_power_w()).filter(power__gte=filters.min_power_kw * 1000)
        if filters.available:
            connectors = connectors.filter(evse__status=EvseStatus.AVAILABLE)
        locations = locations.filter(Exists(connectors))
    else:
        locations = locations.filter(Exists(_visible_evses().filter(location=OuterRef("pk"))))
    if filters.partner_id is not None:
        locations = locations.filter(partner_id=filters.partner_id)
    if filters.operator:
        locations = locations.filter(operator_name__iexact=filters.operator)
    if filters.text:
        text = filters.text
        locations = locations.filter(Q(name__icontains=text) | Q(address__icontains=text) | Q(city__icontains=text))
    return locations


def _published() -> QuerySet[Location]:
    return Location.objects.filter(publish=True, removed_at__isnull=True)


def _in_box(locations: QuerySet[Location], box: Box) -> QuerySet[Location]:
    # Decimal bounds, so the comparison is on the numeric columns themselves and the btree index serves it.
    return locations.filter(
        latitude__gte=Decimal(repr(box.south)),
        latitude__lte=Decimal(repr(box.north)),
        longitude__gte=Decimal(repr(box.west)),
        longitude__lte=Decimal(repr(box.east)),
    )


def box_around(*, latitude: float, longitude: float, radius_m: float) -> Box:
    """The smallest lat/lon box holding the circle (near the poles, every longitude)."""
    dlat = radius_m / METRES_PER_DEGREE_LAT
    cos_lat = math.cos(math.radians(min(89.9, abs(latitude) + dlat)))
    dlon = min(180.0, dlat / cos_lat) if cos_lat > 0 else 180.0
    return Box(
        south=max(-90.0, latitude - dlat),
        west=max(-180.0, longitude - dlon),
        north=min(90.0, latitude + dlat),
        east=min(180.0, longitude + dlon),
    )


class DistanceM(Func):
    """The great-circle (haversine) distance in metres from a point to a row's latitude/longitude, as SQL.

    One expression node with the SQL written out, not two dozen nested Django functions: compiling those took
    more of a "near me" request than running them. The CASTs to double precision are what PostgreSQL's
    trigonometry takes (SQLite reads the type name as REAL); the point's own sine-free terms are parameters."""

    output_field = FloatField()
    _TEMPLATE = (
        "({diameter} * ASIN(SQRT(POWER(SIN((RADIANS(CAST({lat} AS double precision)) - %s) / 2), 2) "
        "+ %s * COS(RADIANS(CAST({lat} AS double precision))) "
        "* POWER(SIN((RADIANS(CAST({lon} AS double precision)) - %s) / 2), 2))))"
    )

    def __init__(self, *, latitude: float, longitude: float) -> None:
        super().__init__(F("latitude"), F("longitude"))
        self.point = (math.radians(latitude), math.cos(math.radians(latitude)), math.radians(longitude))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        lat_sql, _ = compiler.compile(self.source_expressions[0])  # plain columns: no parameters
        lon_sql, _ = compiler.compile(self.source_expressions[1])
        sql = self._TEMPLATE.format(diameter=repr(2 * EARTH_RADIUS_M), lat=lat_sql, lon=lon_sql)
        return sql, list(self.point)


@dataclass(frozen=True)
class Near:
    location_id: int
    distance_m: float


def locations_near(
    *,
    latitude: float,
    longitude: float,
    radius_m: float,
    filters: ChargerFilters | None = None,
    limit: int = NEAR_LIMIT,
) -> list[Near]:
    """The nearest `limit` visible locations within `radius_m` of the point that pass the filters, nearest first
    (then by id, for stable pages), with their distance.

    In two steps, so that the checks per location (a visible EVSE, the connector filters: an EXISTS each) run on
    about as many locations as the answer needs, not on every one in the circle (a 5 km circle in a city holds
    a thousand): first the published locations in the circle, id and distance only, read from the partial index
    `location_published_coordinates` alone; then, nearest first in growing batches, those that pass, until
    `limit` have.
    """
    radius_m = min(radius_m, MAX_RADIUS_M)
    filters = filters or ChargerFilters()
    box = box_around(latitude=latitude, longitude=longitude, radius_m=radius_m)
    circle = (
        _in_box(_published(), box)
        .annotate(distance_m=DistanceM(latitude=latitude, longitude=longitude))
        .filter(distance_m__lte=radius_m)
        .order_by("distance_m", "pk")
    )
    candidates = list(circle.values_list("pk", "distance_m")[:CANDIDATES])
    found: list[Near] = []
    start, size = 0, limit
    while start < len(candidates) and len(found) < limit:
        batch = candidates[start : start + size]
        passing = set(
            locations_filter(Location.objects.filter(pk__in=[pk for pk, _ in batch]), filters=filters).values_list(
                "pk", flat=True
            )
        )
        found += [Near(pk, distance) for pk, distance in batch if pk in passing]
        start, size = start + size, size * 2
    if len(candidates) == CANDIDATES and len(found) < limit:
        # More in the circle than one read takes, and too few of the nearest pass: the database checks them all.
        rows = locations_filter(circle, filters=filters).values_list("pk", "distance_m")[:limit]  # type: ignore[misc]
        found = [Near(pk, distance) for pk, distance in rows]
    return found[:limit]


def locations_by_id(*, location_ids: list[int]) -> dict[int, Location]:
    """The locations of a result page, with their partner's name: the columns a result list shows only (not
    the JSON ones, whose parsing was a good part of reading them)."""
    columns = ("name", "address", "city", "latitude", "longitude", "operator_name", "partner__name")
    return Location.objects.select_related("partner").only(*columns).in_bulk(location_ids)


def locations_in_box(*, box: Box, filters: ChargerFilters | None = None) -> QuerySet[Location]:
    """Visible locations in the box (a map at high zoom shows each as a pin), by id."""
    locations = locations_filter(_in_box(_published(), box), filters=filters or ChargerFilters())
    return locations.select_related("partner").order_by("pk")


def location_cells(*, box: Box, cell_degrees: float, filters: ChargerFilters | None = None) -> list[Cell]:
    """The visible locations in the box counted per grid cell of `cell_degrees` (a map at low zoom), in the
    database: one GROUP BY over the cells, however many locations the box holds. Cells are fixed to the
    globe (row = floor(latitude / size)), so panning the map does not move them."""
    size = Value(cell_degrees)
    locations = locations_filter(_in_box(_published(), box), filters=filters or ChargerFilters())
    rows = (
        locations.annotate(
            row=Cast(Floor(Cast("latitude", FloatField()) / size), IntegerField()),
            column=Cast(Floor(Cast("longitude", FloatField()) / size), IntegerField()),
        )
        .values("row", "column")
        .annotate(
            count=Count("pk"),
            lat_sum=Sum(Cast("latitude", FloatField())),
            lon_sum=Sum(Cast("longitude", FloatField())),
        )
        .order_by("row", "column")
    )
    return [
        Cell(
            row=r["row"],
            column=r["column"],
            count=r["count"],
            latitude=round(r["lat_sum"] / r["count"], 6),
            longitude=round(r["lon_sum"] / r["count"], 6),
        )
        for r in rows
    ]


def location_summaries(*, location_ids: list[int]) -> dict[int, LocationSummary]:
    """Per location of a result page: its visible EVSEs, those available now, its fastest connector, and its
    connector standards and currents (one query for the page)."""
    summaries = {pk: LocationSummary() for pk in location_ids}
    seen: set[int] = set()
    rows = (
        _visible_connectors()
        .filter(evse__location_id__in=location_ids)
        .annotate(power=connector_power_w())
        .values_list("evse__location_id", "evse_id", "evse__status", "standard", "power_type", "power")
        .order_by("evse__location_id", "evse_id", "pk")
    )
    for location_id, evse_id, status, standard, power_type, power in rows:
        summary = summaries[location_id]
        if evse_id not in seen:
            seen.add(evse_id)
            summary.evses += 1
            summary.available += status == EvseStatus.AVAILABLE
        kw = Decimal(power) / 1000 if power is not None else None
        if kw is not None and (summary.max_power_kw is None or kw > summary.max_power_kw):
            summary.max_power_kw = kw
        if standard not in summary.standards:
            summary.standards.append(standard)
        current = DC if power_type.startswith("DC") else AC
        if current not in summary.currents:
            summary.currents.append(current)
    return summaries


def location_for_driver(*, location_id: int) -> Location | None:
    """A visible location with its visible EVSEs and their connectors (None: unknown, unpublished, or nothing
    left to charge at)."""
    return (
        locations_filter(_published().filter(pk=location_id), filters=ChargerFilters())
        .select_related("partner")
        .prefetch_related(
            Prefetch("evses", queryset=_visible_evses().order_by("pk")),
            Prefetch("evses__connectors", queryset=Connector.objects.filter(removed_at__isnull=True).order_by("pk")),
        )
        .first()
    )


def tariffs_of_location(location: Location) -> dict[str, Tariff]:
    """The tariffs we hold (not deleted by the CPO) that the location's connectors name, by the CPO's id."""
    ids = {
        tariff_id for evse in location.evses.all() for c in evse.connectors.all() for tariff_id in c.tariff_ids or []
    }
    if not ids:
        return {}
    held = Tariff.objects.filter(
        country_code=location.country_code, party_id=location.party_id, ocpi_id__in=ids, removed_at__isnull=True
    )
    return {tariff.ocpi_id: tariff for tariff in held}
