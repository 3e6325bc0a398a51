"""Demo plans for `make run` (called by name from roaming's rundemo, which may not import billing).

Idempotent: a default "Pay as you go" plan (the CPO's price plus 15 % and a session fee) and a "Plus"
subscription (a monthly fee, our own lower prices per power class, an idle fee after 30 minutes). With
`--driver`, that driver has been on Plus since the first day of last month: last month can be invoiced at once
(its subscription fee) from the admin, while the simulator's sessions of this month are charged as they end.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from billing.charges import plan_subscribe
from billing.invoicing import billing_zone, local_midnight, previous_period
from billing.models import PlanPriceRule, PlanSubscription, RetailPlan


class Command(BaseCommand):
    help = "Create the demo retail plans (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--driver", help="Username of a driver to put on Plus since the start of last month.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not RetailPlan.objects.filter(is_default=True).exists():
            RetailPlan.objects.get_or_create(
                name="Pay as you go",
                defaults={
                    "is_default": True,
                    "markup_percent": Decimal("15"),
                    "session_fee": Decimal("0.35"),
                    "idle_fee_per_minute": Decimal("0.10"),
                    "idle_grace_minutes": 60,
                },
            )
        plus, created = RetailPlan.objects.get_or_create(
            name="Plus",
            defaults={
                "basis": RetailPlan.Basis.OWN_PRICES,
                "monthly_fee": Decimal("4.99"),
                "idle_fee_per_minute": Decimal("0.10"),
                "idle_grace_minutes": 60,
            },
        )
        if created:
            for power_class, per_kwh in (("", "0.45"), ("AC", "0.39"), ("DC", "0.49"), ("HPC", "0.59")):
                PlanPriceRule.objects.create(plan=plus, power_class=power_class, price_per_kwh=Decimal(per_kwh))
        self.stdout.write("Demo plans: " + ", ".join(RetailPlan.objects.order_by("pk").values_list("name", flat=True)))
        if options.get("driver"):
            driver = get_user_model().objects.get(username=options["driver"]).driver
            if not PlanSubscription.objects.filter(driver=driver).exists():
                last_month = previous_period(timezone.now().astimezone(billing_zone()).date())
                plan_subscribe(driver=driver, plan=plus, at=local_midnight(last_month))
                self.stdout.write(f"{driver} is on Plus since {last_month:%d %B %Y}.")
