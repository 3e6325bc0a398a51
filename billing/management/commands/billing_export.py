"""`manage.py billing_export --partner ID --month 2026-11 [-o FILE]`

A partner's CDRs of a month (by session start, UTC) with the CPO's price and ours, as CSV for finance: the
same rows as the export on the disputes page of the admin. Without -o the CSV goes to stdout.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.selectors import cdr_price_rows, csv_lines, parse_month
from roaming.models import Partner


class Command(BaseCommand):
    help = "Export a partner's CDRs of a month with both prices (CPO's and ours) as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--partner", required=True, type=int, help="the partner's id (see the admin)")
        parser.add_argument("--month", required=True, help="e.g. 2026-11")
        parser.add_argument("-o", "--output", help="file to write (default: stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            year, month = parse_month(options["month"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        partner = Partner.objects.filter(pk=options["partner"]).first()
        if partner is None:
            raise CommandError(f"no partner with id {options['partner']}")
        lines = csv_lines(cdr_price_rows(partner, year, month))
        if options["output"]:
            with open(options["output"], "w", newline="", encoding="utf-8") as out:
                out.writelines(lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")
