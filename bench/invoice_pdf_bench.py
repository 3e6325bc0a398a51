"""How long rendering one invoice PDF takes (target: under 1 second).

The invoice is a busy driver's month: 40 charging sessions at two VAT rates and a subscription fee, in Dutch,
read from the database as the render task and the back office read it (its lines, the driver's mandate). After
a warm-up render (WeasyPrint loads Pango and the fonts once per process), each of N renders is timed; the
median and the maximum are reported. The rows are written in a transaction that is rolled back.

    .venv/bin/python -m bench.invoice_pdf_bench [--renders 20] [--lines 40]

Standalone, it migrates and uses the database of DATABASE_URL (default: the benchmark database).
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also runnable as a plain script

CENT = Decimal("0.01")


class _Rollback(Exception):
    pass


def _invoice(lines: int) -> Any:
    """A driver's invoice for November 2026 with `lines` sessions (every 5th at 9 % VAT) and a subscription."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from billing.models import Invoice, InvoiceLine
    from drivers.models import Driver

    user = get_user_model().objects.create_user("bench-invoice", first_name="Anne", last_name="de Vries")
    driver = Driver.objects.create(user=user, language="nl", street="Damrak 1", postal_code="1012 LG", city="Amsterdam")
    invoice = Invoice.objects.create(
        number="BENCH-2026-000001",
        driver=driver,
        period=date(2026, 11, 1),
        issued_at=timezone.now(),
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 15),
        currency="EUR",
        language="nl",
        customer_name="Anne de Vries",
        customer_address="Damrak 1\n1012 LG Amsterdam\nNetherlands",
        customer_country="NL",
    )
    rows = []
    for n in range(lines):
        energy = Decimal(8 + (n * 7) % 45) + Decimal("0.372")
        hours = Decimal(20 + (n * 13) % 160) / 60
        amount = (energy * Decimal("0.4895")).quantize(CENT, ROUND_HALF_UP)
        rows.append(
            InvoiceLine(
                invoice=invoice,
                position=n + 1,
                kind=InvoiceLine.Kind.SESSION,
                description="Laadsessie",
                supplied_on=date(2026, 11, 1) + timedelta(days=n % 30),
                location=f"Parkeergarage {n % 9 + 1}, Stationsplein {n + 1}, Amsterdam",
                energy_kwh=energy,
                duration_hours=hours,
                unit_price_excl_vat=amount,
                amount_excl_vat=amount,
                vat_rate=Decimal("9") if n % 5 == 4 else Decimal("21"),
            )
        )
    rows.append(
        InvoiceLine(
            invoice=invoice,
            position=lines + 1,
            kind=InvoiceLine.Kind.SUBSCRIPTION,
            description="Plus, november 2026",
            unit_price_excl_vat=Decimal("4.99"),
            amount_excl_vat=Decimal("4.99"),
            vat_rate=Decimal("21"),
        )
    )
    InvoiceLine.objects.bulk_create(rows)
    summary = []
    for rate in sorted({row.vat_rate for row in rows}, reverse=True):
        taxable = sum((row.amount_excl_vat for row in rows if row.vat_rate == rate), Decimal(0))
        vat = (taxable * rate / 100).quantize(CENT, ROUND_HALF_UP)
        summary.append({"rate": str(rate), "taxable": str(taxable), "vat": str(vat)})
    invoice.vat_summary = summary
    invoice.total_excl_vat = sum((Decimal(s["taxable"]) for s in summary), Decimal(0))
    invoice.total_vat = sum((Decimal(s["vat"]) for s in summary), Decimal(0))
    invoice.total_incl_vat = invoice.total_excl_vat + invoice.total_vat
    invoice.save()
    return invoice


def bench_invoice_pdf(*, renders: int = 20, lines: int = 40) -> dict[str, Any]:
    """Render one invoice of `lines` sessions `renders` times after a warm-up; median and max in seconds."""
    from django.db import transaction
    from pypdf import PdfReader

    from billing.documents import invoice_pdf
    from billing.models import Invoice

    # Without HarfBuzz-Subset WeasyPrint warns at each render; the result says which subsetter ran.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    result: dict[str, Any] = {}
    try:
        with transaction.atomic():
            pk = _invoice(lines).pk
            pdf = invoice_pdf(Invoice.objects.get(pk=pk))  # warm-up: Pango, fontconfig, the template
            seconds, cpu = [], []
            for _ in range(renders):
                began, began_cpu = time.perf_counter(), time.process_time()
                pdf = invoice_pdf(Invoice.objects.get(pk=pk))
                seconds.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
            from weasyprint.text.ffi import harfbuzz_subset

            result = {
                # WeasyPrint subsets fonts with HarfBuzz-Subset where the library is installed, else with the
                # much slower fontTools (about half of the render).
                "font_subsetter": "fontTools" if harfbuzz_subset is None else "HarfBuzz",
                "lines": lines + 1,
                "renders": renders,
                "pages": len(PdfReader(io.BytesIO(pdf)).pages),
                "kb": round(len(pdf) / 1024),
                "median_s": round(statistics.median(seconds), 3),
                "max_s": round(max(seconds), 3),
                # This process's CPU time: what the render costs where other processes don't share the cores.
                "cpu_median_s": round(statistics.median(cpu), 3),
            }
            raise _Rollback
    except _Rollback:
        pass
    return result


def summary(result: dict[str, Any]) -> str:
    return (
        f"median {result['median_s']:.3f} s, max {result['max_s']:.3f} s over {result['renders']} renders, "
        f"CPU median {result['cpu_median_s']:.3f} s ({result['lines']} lines, {result['pages']} pages, "
        f"{result['kb']} KB, fonts subset by {result['font_subsetter']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.invoice_pdf_bench")
    parser.add_argument("--renders", type=int, default=20)
    parser.add_argument("--lines", type=int, default=40, help="session lines on the invoice")
    args = parser.parse_args()
    from bench.servers import DATABASE_URL, ROOT

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    os.environ.setdefault("DATABASE_URL", DATABASE_URL)
    import django
    from django.core.management import call_command

    os.chdir(ROOT)
    django.setup()
    call_command("migrate", verbosity=0)
    print(f"invoice PDF: {summary(bench_invoice_pdf(renders=args.renders, lines=args.lines))}")


if __name__ == "__main__":
    main()
