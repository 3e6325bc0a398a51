"""Per-partner sync schedules, kept in django-celery-beat so staff can change them in the admin."""

from __future__ import annotations

import json

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from roaming.models import Partner, SyncRun

#: Mirrors of the CPO's lists: incremental pulls, and a nightly full pull that detects removals.
MODULES = (SyncRun.Module.LOCATIONS, SyncRun.Module.TARIFFS)
#: The CPO's records of what happened: incremental pulls only, catching up on pushes we missed.
RECORD_MODULES = (SyncRun.Module.SESSIONS, SyncRun.Module.CDRS)


def schedule_name(partner: Partner, module: str, full: bool) -> str:
    return f"partner {partner.pk} {module} {'full' if full else 'incremental'} sync"


def partner_schedule_syncs(*, partner: Partner) -> None:
    """An incremental pull every few minutes per module, and a nightly full pull (removal detection) of
    locations and tariffs.

    Existing rows keep their schedule (staff may have edited them) and are enabled again.
    """
    every, _ = IntervalSchedule.objects.get_or_create(
        every=settings.OCPI_SYNC_INCREMENTAL_MINUTES, period=IntervalSchedule.MINUTES
    )
    # Spread the partners' nightly pulls over the hour.
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute=str(partner.pk * 7 % 60), hour=str(settings.OCPI_SYNC_FULL_HOUR_UTC), timezone="UTC"
    )
    plan = [(module, False, {"interval": every}) for module in (*MODULES, *RECORD_MODULES)]
    plan += [(module, True, {"crontab": nightly}) for module in MODULES]
    for module, full, schedule in plan:
        PeriodicTask.objects.get_or_create(
            name=schedule_name(partner, module, full),
            defaults={"task": "roaming.sync_partner", "args": json.dumps([partner.pk, str(module), full]), **schedule},
        )
    PeriodicTask.objects.filter(name__startswith=f"partner {partner.pk} ").update(enabled=True)


def partner_pause_syncs(*, partner: Partner) -> None:
    PeriodicTask.objects.filter(name__startswith=f"partner {partner.pk} ").update(enabled=False)
