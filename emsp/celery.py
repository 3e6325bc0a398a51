"""The Celery app.

Configuration comes from Django settings (`CELERY_*`). With no broker configured the settings turn on
`task_always_eager`, so `make run` and the SQLite test run execute tasks in-process.
Per-partner sync schedules live in django-celery-beat (editable in the admin); platform-wide jobs are
listed once, here.
"""

import os
from typing import Any
from zoneinfo import ZoneInfo

from celery import Celery, signals
from celery.schedules import crontab, schedule
from django.conf import settings
from django_celery_beat.tzcrontab import TzAwareCrontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emsp.settings")


class BillingCrontab(TzAwareCrontab):
    """A crontab in BILLING_TIME_ZONE (months are invoiced by its calendar). The zone is read when the schedule
    is used: settings are still loading when this module is imported (`emsp/__init__.py`)."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(settings.BILLING_TIME_ZONE)

    @tz.setter
    def tz(self, value: object) -> None:
        pass  # always the setting's


app = Celery("emsp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
def _log_task_id(task_id: str, task: Any, **kwargs: Any) -> None:
    """On a worker, a task's log records carry its task id as their request_id (emsp/lib/logs.py). A task run
    in-process keeps the id of the request that ran it."""
    from emsp.lib.logs import request_id_var

    if not task.request.is_eager:
        request_id_var.set(task_id)


@signals.task_postrun.connect
def _forget_task_id(task: Any, **kwargs: Any) -> None:
    from emsp.lib.logs import request_id_var

    if not task.request.is_eager:
        request_id_var.set("")


# Platform-wide periodic jobs (per-partner syncs are django-celery-beat rows, editable in the admin).
app.conf.beat_schedule = {
    # Daily at 02:30 UTC, https://crontab.guru/#30_2_*_*_*
    "purge-ocpi-request-log": {"task": "roaming.purge_request_log", "schedule": crontab(hour=2, minute=30)},
    # Hourly, https://crontab.guru/#5_*_*_*_*
    "purge-expired-credentials-tokens": {"task": "roaming.purge_expired_tokens", "schedule": crontab(minute=5)},
    # Every minute, https://crontab.guru/#*_*_*_*_*
    "send-task-outbox": {"task": "emsp.outbox_sweep", "schedule": crontab()},
    # Every minute, https://crontab.guru/#*_*_*_*_*
    "push-token-changes": {"task": "roaming.push_tokens_due", "schedule": crontab()},
    # Hourly at :20, https://crontab.guru/#20_*_*_*_*: the CPOs' invoice reconciliation records (their Senders)
    "pull-invoice-records": {"task": "roaming.pull_invoice_records", "schedule": crontab(minute=20)},
    # Every 5 minutes, https://crontab.guru/#*/5_*_*_*_*: our invoice reconciliation records not yet delivered
    "push-invoice-records": {"task": "roaming.push_invoice_records_due", "schedule": crontab(minute="*/5")},
    # Every minute, https://crontab.guru/#*_*_*_*_*
    "time-out-commands": {"task": "roaming.commands_time_out", "schedule": crontab()},
    # Every 15 seconds (a crontab cannot): commands whose resend is due but whose task was lost, inside a send
    # window of a minute (OCPI_COMMAND_SEND_WINDOW_SECONDS), and those whose window has passed
    "send-due-commands": {"task": "roaming.commands_send_due", "schedule": schedule(run_every=15)},
    # Every minute, https://crontab.guru/#*_*_*_*_*: charging preferences whose sender died before the PUT
    "send-stale-charging-preferences": {"task": "roaming.preferences_send_stale", "schedule": crontab()},
    # Every minute, https://crontab.guru/#*_*_*_*_*: the safety net behind pricing on arrival
    "price-cdrs": {"task": "billing.price_cdrs", "schedule": crontab()},
    # Every 5 minutes, https://crontab.guru/#*/5_*_*_*_*
    "expire-driver-tokens": {"task": "drivers.expire_tokens", "schedule": crontab(minute="*/5")},
    # Daily at 07:15 UTC (reminders arrive in the morning), https://crontab.guru/#15_7_*_*_*
    "billing-dunning": {"task": "billing.dunning_run", "schedule": crontab(hour=7, minute=15)},
    # The 1st of the month at 04:00 in BILLING_TIME_ZONE, https://crontab.guru/#0_4_1_*_*: invoices for the
    # month before (CDRs of its last evening have had a few hours to arrive; later ones go on next month's).
    "invoice-run": {
        "task": "billing.invoice_run",
        "schedule": BillingCrontab(minute=0, hour=4, day_of_month=1),
    },
}
