"""`manage.py finance_export invoices|payments|payables --period 2026-10 [--partner ID] [-o FILE]`

Finance's CSV exports of a month (`billing.exports`): the invoices issued in it, the payments received or
returned in it, and what we owe each CPO for its CDRs of the month. Without -o the CSV goes to stdout.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.exports import KINDS, finance_export
from billing.selectors import csv_lines, parse_month
from roaming.models import Partner


class Command(BaseCommand):
    help = "Export a month's invoices, payments or payables to CPOs as CSV for finance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--period", required=True, help="the month, e.g. 2026-10")
        parser.add_argument("--partner", type=int, help="payables: only this partner (its id, see the admin)")
        parser.add_argument("-o", "--output", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            year, month = parse_month(options["period"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        partner = None
        if options["partner"] is not None:
            if options["kind"] != "payables":
                raise CommandError("--partner only narrows payables")
            partner = Partner.objects.filter(pk=options["partner"]).first()
            if partner is None:
                raise CommandError(f"no partner with id {options['partner']}")
        export = finance_export(options["kind"], year, month, partner=partner)
        lines = csv_lines(export.rows, export.columns)
        if options["output"]:
            with open(options["output"], "w", newline="", encoding="utf-8") as out:
                out.writelines(lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")
