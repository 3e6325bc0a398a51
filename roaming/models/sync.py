"""Pull-sync runs: when each ran, what it changed, and why it failed."""

from __future__ import annotations

from django.db import models


class SyncRun(models.Model):
    class Module(models.TextChoices):
        LOCATIONS = "locations"
        TARIFFS = "tariffs"
        SESSIONS = "sessions"
        CDRS = "cdrs"

    class Mode(models.TextChoices):
        FULL = "full", "Full (with removal detection)"
        INCREMENTAL = "incremental", "Incremental (date_from)"

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    partner = models.ForeignKey("roaming.Partner", on_delete=models.CASCADE, related_name="sync_runs")
    module = models.CharField(max_length=16, choices=Module.choices)
    mode = models.CharField(max_length=12, choices=Mode.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    date_from = models.DateTimeField(null=True, blank=True, help_text="Incremental: changes since this time.")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    total_expected = models.PositiveIntegerField(null=True, blank=True, help_text="The CPO's X-Total-Count.")
    seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    invalid = models.PositiveIntegerField(default=0, help_text="Objects skipped because they failed validation.")
    attempt = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True)
    notes = models.TextField(
        blank=True, help_text="How the run went besides its counts: paging by offset where Link failed, a resume."
    )
    start_offset = models.PositiveIntegerField(
        default=0, help_text="Where in the CPO's list this run started: above 0 when it resumed a failed full run."
    )
    next_offset = models.PositiveIntegerField(
        default=0, help_text="Offset past the last page stored: where the next full run resumes if this one failed."
    )
    #: A full run that failed part-way: {"last": key of the last object stored, "listed": keys listed so far, this
    #: run's and those of the runs it resumed} (listed only for modules with removal detection). Read by the next
    #: full run, which resumes at `next_offset`; cleared once it has.
    resume_keys = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-started_at",)
        indexes = [
            models.Index(fields=("partner", "module", "status", "-started_at"), name="syncrun_latest"),
            models.Index(fields=("started_at",), name="syncrun_started"),  # the back office's list, newest first
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.mode} sync of {self.partner_id} ({self.status})"
