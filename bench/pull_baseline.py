"""The floor under a full locations pull: the same pages fetched, parsed with `json` and COPYed into tables
with the same columns and indexes, one transaction per page. Nothing of ours runs (no validation, no change
detection, no upsert): what is left is the partner's rendering, the network, parsing and PostgreSQL's writes.
The pull's time divided by this one's says how much of it is ours. Runs in a fresh process, like bench.sync_run,
and prints one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from decimal import Decimal
from typing import Any

import django
import requests

SCRATCH = "baseline_"


def _copy_tables(cursor: Any, models: tuple[Any, ...]) -> None:
    """Empty tables shaped like ours, every index included (unique ones too); foreign keys are not copied."""
    for model in models:
        table = model._meta.db_table
        cursor.execute(f"DROP TABLE IF EXISTS {SCRATCH}{table}")
        cursor.execute(f"CREATE TABLE {SCRATCH}{table} (LIKE {table} INCLUDING ALL)")


def _coordinate(doc: dict[str, Any] | None, key: str) -> Decimal | None:
    return Decimal(doc[key]) if doc and doc.get(key) is not None else None


def _hash(doc: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(doc, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


def _rest(doc: dict[str, Any], taken: tuple[str, ...]) -> str:
    return json.dumps({k: v for k, v in doc.items() if k not in taken})


LOCATION_KEYS = (
    "country_code", "party_id", "id", "publish", "name", "address", "city", "postal_code", "state", "country",
    "parking_type", "time_zone", "facilities", "opening_times", "last_updated", "evses",
)  # fmt: skip
EVSE_KEYS = (
    "uid", "evse_id", "status", "capabilities", "floor_level", "physical_reference", "parking_restrictions",
    "last_updated", "connectors",
)  # fmt: skip
CONNECTOR_KEYS = (
    "id", "standard", "format", "power_type", "max_voltage", "max_amperage", "max_electric_power", "tariff_ids",
    "terms_and_conditions", "last_updated",
)  # fmt: skip


def main() -> None:
    django.setup()
    from django.db import connection
    from django.utils import timezone

    from roaming.models import Connector, Evse, Location, Partner
    from roaming.ocpi.client import encode_token

    partner = Partner.objects.get(pk=int(sys.argv[1]))
    headers = {"Authorization": f"Token {encode_token(partner.outgoing_token, base64_encoded=partner.token_base64)}"}
    url: str | None = f"{partner.endpoint_url('locations', 'SENDER')}?limit=1000"
    columns = {m: [f.column for f in m._meta.concrete_fields] for m in (Location, Evse, Connector)}
    raw = connection.cursor().connection  # psycopg's own connection: its COPY
    with raw.cursor() as cursor:
        _copy_tables(cursor, (Location, Evse, Connector))
    raw.commit()
    started = time.perf_counter()
    ids = {"location": 0, "evse": 0, "connector": 0}
    pages = 0
    now = timezone.now()
    with requests.Session() as session:
        while url:
            response = session.get(url, headers=headers, timeout=300)
            response.raise_for_status()
            locations = json.loads(response.content)["data"]
            rows: dict[Any, list[tuple[Any, ...]]] = {Location: [], Evse: [], Connector: []}
            for doc in locations:
                ids["location"] += 1
                coordinates = doc.get("coordinates")
                rows[Location].append((
                    ids["location"], partner.pk, doc["country_code"], doc["party_id"], doc["id"], doc["publish"],
                    doc.get("name", ""), doc["address"], doc["city"], doc.get("postal_code", ""), doc.get("state", ""),
                    doc["country"], _coordinate(coordinates, "latitude"), _coordinate(coordinates, "longitude"),
                    doc.get("parking_type", ""), doc["time_zone"], (doc.get("operator") or {}).get("name", ""),
                    json.dumps(doc.get("facilities", [])), json.dumps(doc.get("opening_times")),
                    doc.get("charging_when_closed", True), _rest(doc, LOCATION_KEYS),
                    _hash(doc), doc["last_updated"],
                    None, now, now,
                ))  # fmt: skip
                for evse in doc.get("evses", []):
                    ids["evse"] += 1
                    place = evse.get("coordinates")
                    rows[Evse].append((
                        ids["evse"], ids["location"], evse["uid"], evse.get("evse_id", ""), evse["status"],
                        json.dumps(evse.get("capabilities", [])), evse.get("floor_level", ""),
                        evse.get("physical_reference", ""), _coordinate(place, "latitude"),
                        _coordinate(place, "longitude"), json.dumps(evse.get("parking_restrictions", [])),
                        _rest(evse, EVSE_KEYS), evse["last_updated"], None,
                    ))  # fmt: skip
                    for connector in evse.get("connectors", []):
                        ids["connector"] += 1
                        rows[Connector].append((
                            ids["connector"], ids["evse"], connector["id"], connector["standard"],
                            connector["format"], connector["power_type"], connector["max_voltage"],
                            connector["max_amperage"], connector.get("max_electric_power"),
                            json.dumps(connector.get("tariff_ids", [])), connector.get("terms_and_conditions", ""),
                            _rest(connector, CONNECTOR_KEYS), connector["last_updated"], None,
                        ))  # fmt: skip
            with raw.cursor() as cursor:
                for model, table_rows in rows.items():
                    names = ", ".join(columns[model])
                    with cursor.copy(f"COPY {SCRATCH}{model._meta.db_table} ({names}) FROM STDIN") as copy:
                        for row in table_rows:
                            copy.write_row(row)
            raw.commit()
            pages += 1
            url = response.links.get("next", {}).get("url")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with raw.cursor() as cursor:
        for model in (Location, Evse, Connector):
            cursor.execute(f"DROP TABLE {SCRATCH}{model._meta.db_table}")
    raw.commit()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mb": usage.ru_maxrss / 1024,
                "pages": pages,
                "locations": ids["location"],
                "evses": ids["evse"],
                "connectors": ids["connector"],
            }
        )
    )


if __name__ == "__main__":
    main()
