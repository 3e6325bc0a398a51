from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from emsp.lib.tasks import background_tasks, wait_for_background_tasks
from roaming.models import SyncRun
from roaming.services.partners import HandshakeError, first_pull_plan, register_with


class Command(BaseCommand):
    help = "Register with a partner that gave us its versions URL and a token A."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("versions_url")
        parser.add_argument("token_a", help="the partner's token A; one that starts with '-' goes after '--'")
        parser.add_argument("--name", default="", help="defaults to the partner's business name")
        parser.add_argument(
            "--raw-token", action="store_true", help="send our token unencoded (platforms that predate OCPI 2.2.1)"
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=600,
            help="seconds to wait for the first pull when it runs in this process (no broker)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            partner = register_with(
                versions_url=options["versions_url"],
                token_a=options["token_a"],
                name=options["name"],
                base64_token=not options["raw_token"],
            )
        except HandshakeError as exc:
            raise CommandError(f"Registration failed: {exc.message}") from exc
        parties = ", ".join(f"{r.country_code}/{r.party_id} {r.role}" for r in partner.roles.all())
        self.stdout.write(f"Registered with {partner.name} (id {partner.pk}), OCPI {partner.version}: {parties}")
        self.stdout.write(first_pull_plan(partner=partner))
        # Without a broker the first pull runs in threads of this process, which die with it when it exits.
        if running := background_tasks():
            self.stdout.write(f"Waiting up to {options['wait']:.0f} s for: {', '.join(running)}")
            if left := wait_for_background_tasks(options["wait"]):
                self.stderr.write(
                    f"Stopped waiting for {', '.join(left)}: they stay in the outbox, and the platform's sweep "
                    "runs them again once their lease is out (minutes)."
                )
            for run in SyncRun.objects.filter(partner=partner).order_by("started_at"):
                self.stdout.write(
                    f"  {run.module}: {run.status}, {run.seen} seen ({run.created} new, {run.invalid} invalid)"
                    + (f": {run.error}" if run.error else "")
                    + "".join(f"\n    {note}" for note in run.notes.splitlines())
                )
