from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from roaming.models import Partner, SyncRun
from roaming.sync import SyncError, sync_partner


class Command(BaseCommand):
    help = "Pull a partner's locations and/or tariffs now (incremental unless --full), with progress."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("partner", help="partner id, name, or party as CC/PID")
        parser.add_argument(
            "--module", choices=[m.value for m in SyncRun.Module], action="append", help="default: both"
        )
        parser.add_argument("--full", action="store_true", help="full pull with removal detection")

    def handle(self, *args: Any, **options: Any) -> None:
        partner = self._partner(options["partner"])
        for module in options["module"] or [SyncRun.Module.LOCATIONS, SyncRun.Module.TARIFFS]:
            bar = tqdm(desc=f"{partner.name} {module}", unit=" objects", disable=not sys.stderr.isatty())

            def progress(run: SyncRun, bar: tqdm = bar) -> None:
                bar.total = run.total_expected
                bar.update(run.start_offset + run.seen - bar.n)

            try:
                run = sync_partner(partner=partner, module=module, full=options["full"], progress=progress)
            except SyncError as exc:
                failed = SyncRun.objects.filter(partner=partner, module=module).order_by("-started_at").first()
                notes = "".join(f"\n  {note}" for note in failed.notes.splitlines()) if failed else ""
                raise CommandError(f"{module} sync failed: {exc}{notes}") from exc
            finally:
                bar.close()
            self.stdout.write(
                f"{module}: {run.mode} sync, {run.pages} pages, {run.seen} seen, {run.created} created, "
                f"{run.updated} updated, {run.unchanged} unchanged, {run.removed} removed, {run.invalid} invalid"
            )
            for note in run.notes.splitlines():  # offset paging where Link failed us, a resume
                self.stdout.write(f"  {note}")

    def _partner(self, ref: str) -> Partner:
        partners = Partner.objects.all()
        if ref.isdigit():
            partners = partners.filter(pk=int(ref))
        elif "/" in ref:
            country_code, party_id = ref.upper().split("/", 1)
            partners = partners.filter(roles__country_code=country_code, roles__party_id=party_id)
        else:
            partners = partners.filter(name=ref)
        partner = partners.first()
        if partner is None:
            raise CommandError(f"No partner {ref!r}.")
        return partner
