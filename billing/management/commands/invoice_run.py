"""`manage.py invoice_run --period 2026-10`: issue the month's invoices now, with a progress bar.

Safe to run again or alongside another run (drivers invoiced for the month are left out), and after a run was
killed: it invoices whoever has no invoice for the month yet.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from billing.invoicing import CHUNK_SIZE, InvoicingError, invoice_run
from billing.models import InvoiceRun


def _month(value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise CommandError(f"--period must be a month as YYYY-MM, got {value!r}") from None


class Command(BaseCommand):
    help = "Issue the invoices of a month to every driver with charges or a subscription fee not invoiced yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="the month to invoice, YYYY-MM")
        parser.add_argument(
            "--chunk-size", type=int, default=CHUNK_SIZE, help=f"drivers per transaction (default {CHUNK_SIZE})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        period = _month(options["period"])
        bar = tqdm(desc=f"invoicing {period:%Y-%m}", unit=" drivers", disable=not sys.stderr.isatty())

        def progress(run: InvoiceRun) -> None:
            bar.total = run.drivers_total
            bar.update(run.drivers_done - bar.n)
            bar.set_postfix(invoices=run.invoices_created, refresh=False)

        try:
            run = invoice_run(period=period, progress=progress, chunk_size=options["chunk_size"])
        except InvoicingError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(
            f"invoice run #{run.pk} for {period:%Y-%m}: {run.status}, {run.drivers_done} of {run.drivers_total} "
            f"drivers, {run.invoices_created} invoices created"
        )
