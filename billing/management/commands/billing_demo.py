"""Demo plans for `make run` (called by name from roaming's rundemo, which may not import billing).

Idempotent: a default "Pay as you go" plan (the CPO's price plus 15 % and a session fee) and a "Plus"
subscription (a monthly fee, our own lower prices per power class, an idle fee after 30 minutes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand

from billing.models import PlanPriceRule, RetailPlan


class Command(BaseCommand):
    help = "Create the demo retail plans (idempotent)."

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
