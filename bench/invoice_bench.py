"""The monthly invoice run (issue 15 target): 1,000,000 priced CDRs of 50,000 drivers invoiced by
`manage.py invoice_run` on PostgreSQL in under 5 minutes with a peak RSS under 500 MB.

The database is seeded in bulk, server-side: one CDR written through the ORM, then copied a million times by
INSERT ... SELECT over generate_series (as bench/billing_bench.py copies CDRs), each with its PRICED price and
the driver's charge; users and drivers go in by COPY. A tenth of the drivers are on a plan with a monthly fee,
one in a hundred changed plans in the middle of the month (two fee lines). What is measured is the run alone,
in its own process, as staff or the beat job start it.

Alone: `python -m bench.invoice_bench [--drivers N --cdrs N]` (fresh database BENCH_DATABASE_URL, also measures
the bare-view baseline of this machine); `python -m bench` runs it last, on a fresh database again.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .servers import ROOT, env

PERIOD = "2026-10"


def seed(*, drivers: int, cdrs: int) -> None:
    """`drivers` drivers with `cdrs` priced October CDRs and their charges between them, and plan spells."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from billing.models import CdrPrice, PlanSubscription, RetailPlan, SessionCharge
    from drivers.models import Driver
    from emsp.lib.bulkupsert import bulk_insert
    from roaming.models import Cdr, Partner

    user_model = get_user_model()
    bulk_insert(
        user_model,
        [
            user_model(
                username=f"inv{n}", email=f"inv{n}@example.com", first_name="Driver", last_name=str(n), password="!"
            )
            for n in range(drivers)
        ],
    )
    user_ids = list(user_model.objects.filter(username__startswith="inv").order_by("pk").values_list("pk", flat=True))
    bulk_insert(
        Driver, [Driver(user_id=pk, street="Damrak 1", postal_code="1012 LG", city="Amsterdam") for pk in user_ids]
    )
    driver_ids = list(Driver.objects.filter(user_id__in=user_ids).order_by("pk").values_list("pk", flat=True))
    partner = Partner.objects.create(name="Invoice bench CPO", versions_url="https://cpo.example.com/versions")
    payg = RetailPlan.objects.create(name="Bench pay as you go", markup_percent=Decimal("20"))
    plus = RetailPlan.objects.create(name="Bench Plus", monthly_fee=Decimal("4.99"))
    start = datetime(2026, 10, 1, tzinfo=UTC)
    template = Cdr.objects.create(
        partner=partner, country_code="NL", party_id="CPO", ocpi_id="INV-TEMPLATE", start_date_time=start,
        end_date_time=start, token_uid="INVBENCH", token_type="RFID", auth_method="WHITELIST",
        cdr_location={"id": "LOC1", "name": "Central Garage", "address": "Stationsplein 1", "city": "Amsterdam",
                      "country": "NLD", "evse_uid": "E1", "connector_id": "1", "connector_power_type": "AC_3_PHASE"},
        currency="EUR", total_cost_excl_vat=Decimal("9.00"), total_energy=Decimal("22.5"), total_time=Decimal("1.5"),
        charging_periods=[], raw={}, content_hash="0" * 40, last_updated=start,
    )  # fmt: skip
    columns = [f.column for f in Cdr._meta.concrete_fields if not f.primary_key]
    computed = {
        "ocpi_id": "'INV-' || n",
        "driver_id": "(%(drivers)s::bigint[])[1 + n %% %(count)s]",
        # Spread over October (in whole minutes), 90 minutes each: the last ones end in November (not due).
        "start_date_time": "c.start_date_time + ((n::bigint * 7919) %% (31 * 24 * 60)) * interval '1 minute'",
        "end_date_time": "c.start_date_time + ((n::bigint * 7919) %% (31 * 24 * 60) + 90) * interval '1 minute'",
        "last_updated": "c.start_date_time + ((n::bigint * 7919) %% (31 * 24 * 60) + 90) * interval '1 minute'",
        "total_energy": "(5 + n %% 60)::numeric",
    }
    select = ", ".join(computed.get(c, f"c.{c}") for c in columns)
    charge = SessionCharge._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Cdr._meta.db_table} ({', '.join(columns)}) SELECT {select} "
            f"FROM {Cdr._meta.db_table} c, generate_series(1, %(cdrs)s) n WHERE c.id = %(template)s",
            {"drivers": driver_ids, "count": len(driver_ids), "cdrs": cdrs, "template": template.pk},
        )
        template.delete()
        cursor.execute(
            f"INSERT INTO {CdrPrice._meta.db_table} (cdr_id, status, currency, lines) "
            f"SELECT id, 'PRICED', currency, '[]'::jsonb FROM {Cdr._meta.db_table}"
        )
        # The retail charge: 0.10 to 20.09 excl. VAT, 4 decimals (rounded on the invoice line).
        cursor.execute(
            f"INSERT INTO {charge} (cdr_id, driver_id, plan_id, currency, session_start, session_end, location, "
            "country, power_class, energy_kwh, charging_hours, parking_hours, amount_excl_vat, vat_rate, lines, "
            "created_at) "
            "SELECT id, driver_id, %s, currency, start_date_time, end_date_time, "
            "'Central Garage, Stationsplein 1, Amsterdam', 'NLD', 'AC', total_energy, 1.5, 0, "
            "(id %% 2000)::numeric / 100 + 0.1049, 21, '[]'::jsonb, now() "
            f"FROM {Cdr._meta.db_table}",
            [payg.pk],
        )
    september, change = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 16, 8, tzinfo=UTC)
    spells = []
    for n, pk in enumerate(driver_ids[::10]):
        if n % 10 == 0:  # changed from pay-as-you-go to Plus mid-October: Plus from the 16th
            spells.append(PlanSubscription(driver_id=pk, plan=plus, valid_from=change))
        else:
            spells.append(PlanSubscription(driver_id=pk, plan=plus, valid_from=september))
    bulk_insert(PlanSubscription, spells)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")


def run_invoice_run(*, period: str = PERIOD) -> dict[str, Any]:
    """`manage.py invoice_run` in a process of its own: wall time and that process's peak RSS."""
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "invoice_run", "--period", period],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.PIPE,
    )
    assert process.stdout is not None
    out = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"invoice_run failed ({process.returncode}): {out}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "output": out.strip()}


def bench_invoice_run(*, drivers: int = 50_000, cdrs: int = 1_000_000) -> dict[str, Any]:
    """Seed a fresh database and time the invoice run over it (the caller has set it up: bench/__main__.py)."""
    from django.db import connection

    from billing.models import Invoice, InvoiceLine, SessionCharge

    began = time.monotonic()
    seed(drivers=drivers, cdrs=cdrs)
    seeded = time.monotonic() - began
    due = SessionCharge.objects.filter(session_end__lt=datetime(2026, 10, 31, 23, tzinfo=UTC)).count()
    connection.close()  # the run has the database to itself
    result = run_invoice_run()
    return result | {
        "drivers": drivers,
        "cdrs": cdrs,
        "charges_due": due,
        "seed_seconds": round(seeded, 1),
        "invoices": Invoice.objects.count(),
        "lines": InvoiceLine.objects.count(),
        "charges_invoiced": SessionCharge.objects.filter(invoice__isnull=False).count(),
    }


def print_result(result: dict[str, Any]) -> None:
    print(
        f"  {result['invoices']:,} invoices with {result['lines']:,} lines ({result['charges_invoiced']:,} of "
        f"{result['cdrs']:,} charges were due) in {result['seconds']} s, peak RSS {result['peak_rss_mb']} MB "
        f"(seeded in {result['seed_seconds']} s)"
    )
    print(f"  {result['output']}")


def _baseline(seconds: float) -> dict[str, Any]:
    """This machine's bare-view throughput (gunicorn 4x1, 16 connections), as `python -m bench` measures it."""
    from .loadgen import run_load
    from .patch_bench import _requests
    from .servers import free_port, gunicorn

    port = free_port()
    # The bare view UPDATEs an EVSE by key; the bench database has none, so each UPDATE finds no row: the
    # same round trips and index look-up, a shade cheaper than a hit.
    evses = [(pk, "", "", "", "") for pk in range(1, 20_001)]
    with gunicorn(port=port, workers=4, threads=1):
        run_load("127.0.0.1", port, _requests(port, "", evses, 2000, ours=False), connections=16, seconds=2)
        result = run_load(
            "127.0.0.1", port, _requests(port, "", evses, 200_000, ours=False), connections=16, seconds=seconds
        )
    return {"rps": round(result.throughput), "p99_ms": round(result.percentile(99), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.invoice_bench")
    parser.add_argument("--drivers", type=int, default=50_000)
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the baseline load run")
    args = parser.parse_args()
    from .servers import DATABASE_URL, fresh_database

    os.environ.update({"DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL})
    sys.path.insert(0, str(ROOT))
    print(f"fresh database {DATABASE_URL} ...", flush=True)
    fresh_database()
    import django

    django.setup()
    print(f"baseline: bare Django view, one UPDATE, 16 connections, {args.seconds:.0f} s ...", flush=True)
    baseline = _baseline(args.seconds)
    print(f"  {baseline['rps']} req/s, p99 {baseline['p99_ms']} ms")
    print(f"invoice run: {args.cdrs:,} priced CDRs of {args.drivers:,} drivers ...", flush=True)
    result = bench_invoice_run(drivers=args.drivers, cdrs=args.cdrs)
    print_result(result)
    met = result["seconds"] < 300 and result["peak_rss_mb"] < 500
    print(f"  target < 300 s and < 500 MB on a ~1,500 req/s machine: {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
