"""Tables of the platform itself, used by every app: the task outbox."""

from __future__ import annotations

from django.db import models


class OutboxTask(models.Model):
    """A task to send to the broker (or, without one, to run in-process), written in the transaction that
    calls for it, so that committed work cannot lose its follow-up (emsp/lib/tasks.py).

    The row is deleted once the broker has the task or the in-process run has ended. A row that stays is
    work the broker did not take yet: the sweeper sends it again every minute.
    """

    task = models.CharField(max_length=200, help_text="The Celery task's name.")
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    run_after = models.DateTimeField(help_text="Not to run before (the caller's countdown).")
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text="Being sent or run until then (lease: one sender at a time)."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Failed sends to the broker.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "outbox task"
        indexes = [
            # The sweeper takes due rows oldest first; /healthz reports the oldest due one.
            models.Index(fields=("run_after",), name="outboxtask_run_after"),
        ]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"
