"""`make run`: the platform on 127.0.0.1:8000 with a live CPO simulator registered as a partner.

Idempotent: the demo user and the simulator's partner record are reused; the simulator, which keeps
its state in memory, registers afresh on every start with a new token A.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, transaction
from django.utils import timezone

from drivers.models import Driver, Token
from drivers.services import driver_create, token_issue, token_report_lost
from emsp.lib.embedded_beat import start_embedded_beat
from roaming.models import ChargingSession, CredentialsToken, Evse, Partner
from roaming.models import Command as OcpiCommand
from roaming.services.charging import ChargingRefused, charging_start, charging_stop
from roaming.services.partners import our_versions_url, partner_new_invitation_token

SIMULATOR_NAME = "CPO simulator (demo)"


class Command(BaseCommand):
    help = "Serve the platform with a live CPO simulator as partner (the `make run` demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("EMSP_PORT", "8000")))
        parser.add_argument("--sim-port", type=int, default=int(os.environ.get("SIM_PORT", "8001")))
        parser.add_argument("--sim-locations", type=int, default=40)
        parser.add_argument("--no-simulator", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("rundemo creates a user with a known password: run it with DEBUG=true.")
        port = options["port"]
        self._demo_user()
        self._demo_driver()
        # Billing's demo plans, by name: roaming may not import billing (every priced CDR is then charged).
        call_command("billing_demo", driver="driver")
        beat = start_embedded_beat() if settings.CELERY_TASK_ALWAYS_EAGER else None
        simulator = None if options["no_simulator"] else self._start_simulator(options)
        base = f"http://127.0.0.1:{port}"
        self.stdout.write(self.style.SUCCESS("\nEMSP platform is starting:"))
        self.stdout.write(f"  Back office (admin):  {base}/admin/   user admin / password admin")
        self.stdout.write("  Demo driver:          user driver / password driver, cards DEMO0001-DEMO0004 (4 lost)")
        self.stdout.write(f"  Driver API docs:      {base}/api/v1/docs/")
        self.stdout.write(
            '                        "Try it out": POST /api/v1/auth/login with {"email": "driver@example.com", '
            '"password": "driver"},'
        )
        self.stdout.write('                        then "Authorize" with the "access" token it returns.')
        self.stdout.write(f"  OCPI versions:        {our_versions_url()}")
        if simulator:
            self.stdout.write(f"  CPO simulator:        http://127.0.0.1:{options['sim_port']}/ocpi/versions")
        self.stdout.write("Press Ctrl+C to stop.\n")
        stopping = threading.Event()
        if simulator:
            threading.Thread(target=self._watch, args=(simulator, stopping), daemon=True).start()
            threading.Thread(target=self._demo_app, args=(stopping,), daemon=True).start()
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, use_threading=True)
        finally:
            stopping.set()
            if beat:
                beat.set()
            if simulator and simulator.poll() is None:
                simulator.send_signal(signal.SIGTERM)
                try:
                    simulator.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    simulator.kill()

    def _watch(self, simulator: subprocess.Popen[bytes], stopping: threading.Event) -> None:
        """Say so when the simulator dies under a running platform, instead of leaving a quiet demo."""
        code = simulator.wait()
        if not stopping.is_set():
            self.stderr.write(
                f"The CPO simulator stopped (exit code {code}); its output is above. The platform runs on without it."
            )

    def _demo_app(self, stopping: threading.Event) -> None:
        """The demo driver's phone: starts and stops a session from the app every few minutes, so the back office
        shows commands and app stops beside the simulator's drivers, who start and stop at the charger."""
        while not stopping.wait(APP_TURN_SECONDS):
            try:
                driver = Driver.objects.get(user__username="driver")
                partner = Partner.objects.get(name=SIMULATOR_NAME, status=Partner.Status.REGISTERED)
                self.stdout.write(f"  [demo app] {demo_app_turn(driver=driver, partner=partner)}")
            except (Driver.DoesNotExist, Partner.DoesNotExist):
                pass  # the simulator has not registered yet
            except Exception as exc:  # a demo helper: say so, never take the platform down
                self.stderr.write(f"  [demo app] {exc!r}")
            finally:
                close_old_connections()

    def _demo_user(self) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True, "email": "admin@example.com"}
        )
        if created:
            user.set_password("admin")
            user.save()

    def _demo_driver(self) -> None:
        """A driver with RFID cards and an app token: the simulator charges with the tokens we push it."""
        user, created = get_user_model().objects.get_or_create(
            username="driver", defaults={"email": "driver@example.com", "first_name": "Dana", "last_name": "Driver"}
        )
        if created:
            user.set_password("driver")
            user.save()
        driver = getattr(user, "driver", None) or driver_create(user=user)
        if not driver.street:  # invoices need the customer's address
            Driver.objects.filter(pk=driver.pk).update(
                street="Damrak 1", postal_code="1012 LG", city="Amsterdam", country="NL"
            )
        for n in range(1, 5):
            if not driver.tokens.filter(uid=f"DEMO{n:04d}").exists():
                card = token_issue(driver=driver, uid=f"DEMO{n:04d}", visual_number=f"DEMO-CARD-{n}")
                if n == 4:  # the simulator's driver tries it now and then: refusals for the back office to show
                    token_report_lost(token=card)
        if not driver.tokens.filter(type=Token.Type.APP_USER).exists():
            token_issue(driver=driver, uid="DEMO-APP-1", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)

    def _start_simulator(self, options: dict[str, Any]) -> subprocess.Popen[bytes]:
        with transaction.atomic():
            partner, _ = Partner.objects.get_or_create(name=SIMULATOR_NAME)
            # A fresh handshake each run: the simulator forgets its tokens when it stops.
            CredentialsToken.objects.filter(partner=partner).delete()
            partner.status = Partner.Status.INVITED
            partner.save(update_fields=["status", "updated_at"])
            token_a = partner_new_invitation_token(partner=partner)
        command = simulator_command(
            port=options["sim_port"],
            locations=options["sim_locations"],
            versions_url=our_versions_url(),
            token_a=token_a,
        )
        return subprocess.Popen(command)


DEMO_WRONG_TOTAL_SHARE = 0.15
#: How often the demo driver's app acts, and how long its sessions run before it stops them.
APP_TURN_SECONDS = 60
APP_SESSION = timedelta(minutes=3)


def demo_app_turn(*, driver: Driver, partner: Partner, now: datetime | None = None) -> str:
    """One turn of the demo driver's app, through the services the driver API calls: stop the session it started
    once it has run APP_SESSION, else start one at a free EVSE of `partner` that takes remote starts. Says what
    it did."""
    now = now or timezone.now()
    if OcpiCommand.objects.filter(
        token__driver=driver, state__in=(OcpiCommand.State.PENDING, OcpiCommand.State.SENT)
    ).exists():
        return "waiting for the charger"
    live = (
        ChargingSession.objects.filter(driver=driver, token__type=Token.Type.APP_USER, status="ACTIVE")
        .order_by("-start_date_time")
        .first()
    )
    try:
        if live is not None:
            if live.start_date_time > now - APP_SESSION:
                return f"charging ({live.ocpi_id})"
            charging_stop(driver=driver, session=live)
            return f"stop sent for {live.ocpi_id}"
        free = Evse.objects.filter(location__partner=partner, status="AVAILABLE", removed_at__isnull=True)
        evse = next((e for e in free.order_by("?")[:50] if "REMOTE_START_STOP_CAPABLE" in e.capabilities), None)
        if evse is None:
            return "no free charger that takes remote starts"
        charging_start(driver=driver, evse=evse)
        return f"start sent for {evse.uid}"
    except ChargingRefused as exc:
        return f"refused: {exc}"


def simulator_command(*, port: int, locations: int, versions_url: str, token_a: str) -> list[str]:
    """The simulator's command line. Values that may start with "-" (a URL-safe token does one time in 64)
    are joined to their option with "=", or argparse would read them as an option of their own."""
    return [
        sys.executable,
        "-m",
        "cposim",
        "serve",
        f"--port={port}",
        "--seed=42",
        f"--locations={locations}",
        f"--register-with={versions_url}",
        f"--token-a={token_a}",
        # A few CDRs with a deliberately wrong total_cost, so a new user sees billing disputes within minutes.
        f"--wrong-total-share={DEMO_WRONG_TOTAL_SHARE}",
        "--live",
        # The simulator keeps its state in memory: a new prefix per start, or its sessions would reuse the ids
        # (S000001, ...) of sessions we hold from the last `make run`.
        f"--session-id-prefix=S{int(time.time()):X}-",
    ]
