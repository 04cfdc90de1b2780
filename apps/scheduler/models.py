"""Schedules mirrored from @ext.schedule, and the record of every fire."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.common.timestamps import rfc3339
from apps.extensions.models import Outcome
from apps.store.shards import SHARDS_MAX


class CatchUp(models.TextChoices):
    """What a schedule does about a slot that was missed (beat or broker down)."""

    RUN_ONCE = "run-once", "run once, late"
    SKIP = "skip", "skip"


class Schedule(models.Model):
    """One ``@ext.schedule`` of one extension, bound to its beat entry."""

    app_id = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    cron = models.CharField(max_length=128, help_text="5-field cron, UTC.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        # Not the default "schedule": PeriodicTask.schedule is beat's own property.
        related_name="imperal_schedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        help_text="The beat entry; enable or disable the schedule there or here.",
    )
    timeout_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Overrides IMPERAL_SCHEDULE_TIMEOUT for this schedule.",
    )
    shards = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(SHARDS_MAX)],
        help_text="Fire as this many shards, each a Celery task running the "
        "handler over its share of list_users/query_all. Safe when the handler's "
        "work outside the list_users loop may run once per shard.",
    )
    catch_up = models.CharField(
        max_length=16,
        choices=CatchUp.choices,
        default=CatchUp.RUN_ONCE,
        help_text="A slot missed while beat or the broker was down: run it once, "
        "late, or skip it. Either way it is recorded as missed.",
    )
    checked_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Slots up to here were checked for misses.",
    )
    present = models.BooleanField(
        default=True, help_text="False when the extension no longer declares it."
    )
    disabled_by_sync = models.BooleanField(
        default=False,
        help_text="Disabled because it vanished (re-enabled if it comes back), "
        "as opposed to disabled by an operator.",
    )

    class Meta:
        ordering = ["app_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["app_id", "name"], name="one_schedule_per_name"
            )
        ]

    @property
    def label(self):
        return f"{self.app_id}:{self.name}"

    @property
    def enabled(self):
        return bool(self.periodic_task and self.periodic_task.enabled)

    def __str__(self):
        return self.label


class RunStatus(models.TextChoices):
    """How a ScheduleRun stands; the handler outcomes are the kernel's Outcome."""

    RUNNING = "running", "running"
    SUCCESS = Outcome.SUCCESS.value, "success"
    FAILED = Outcome.FAILED.value, "failed"
    TIMEOUT = Outcome.TIMEOUT.value, "timeout"
    SKIPPED_DUPLICATE = "skipped-duplicate", "skipped (slot already claimed)"
    SKIPPED_DISABLED = "skipped-disabled", "skipped (extension disabled)"
    MISSED = "missed", "missed (no fire arrived in time)"


# Statuses that are no claim on their slot: another run may hold it.
SKIPPED_STATUSES = [
    RunStatus.SKIPPED_DUPLICATE,
    RunStatus.SKIPPED_DISABLED,
    RunStatus.MISSED,
]


class FireRecord(models.Model):
    """What a fire and a shard of one both record: lease, progress, outcome."""

    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A running claim older than this is presumed lost.",
    )
    progress_percent = models.FloatField(
        null=True, blank=True, help_text="The handler's last ctx.progress report."
    )
    progress_message = models.CharField(max_length=255, blank=True, default="")
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the running fire last reported its fan-out and progress.",
    )
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    traceback = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=200, blank=True, default="")
    task_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        abstract = True


class ScheduleRun(FireRecord):
    """One fire of a schedule for one slot: claimed, run, and how it ended."""

    Status = RunStatus

    SKIPPED = tuple(SKIPPED_STATUSES)

    app_id = models.CharField(max_length=128)
    schedule = models.CharField(max_length=128)
    slot = models.CharField(
        max_length=64,
        help_text="Cron match time (YYYY-MM-DDTHH:MMZ) or manual:<timestamp>.",
    )
    trigger = models.CharField(
        max_length=16, default="beat", help_text="beat or manual"
    )
    triggered_by = models.CharField(
        max_length=150,
        blank=True,
        default="",
        db_default="",
        help_text="Username of the operator who pressed Run now; empty for beat "
        "and manage.py ext fire.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    started_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)
    users_fanned_out = models.PositiveIntegerField(
        default=0,
        help_text="Users the handler acted for (as_user); live while running.",
    )
    shards = models.PositiveSmallIntegerField(
        default=1, help_text="Shards the slot was fired as (see its shard runs)."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # The claim: one non-skipped run per (app, schedule, slot), across
            # every worker and beat, enforced by the database.
            models.UniqueConstraint(
                fields=["app_id", "schedule", "slot"],
                condition=~Q(status__in=SKIPPED_STATUSES),
                name="one_run_per_slot",
            ),
            models.UniqueConstraint(
                fields=["app_id", "schedule", "slot"],
                condition=Q(status=RunStatus.MISSED),
                name="one_missed_per_slot",
            ),
        ]
        indexes = [
            models.Index(
                fields=["app_id", "schedule", "-started_at"], name="run_recent"
            ),
            models.Index(fields=["status", "lease_expires_at"], name="run_lease"),
            models.Index(fields=["started_at"], name="run_started"),
        ]

    def __str__(self):
        return f"{self.app_id}:{self.schedule}@{self.slot} {self.status}"

    def as_dict(self):
        """Return the run as JSON values (what `ext fire` prints)."""
        return {
            "id": self.pk,
            "app_id": self.app_id,
            "schedule": self.schedule,
            "slot": self.slot,
            "trigger": self.trigger,
            "triggered_by": self.triggered_by,
            "status": self.status,
            "started_at": rfc3339(self.started_at) if self.started_at else None,
            "finished_at": rfc3339(self.finished_at) if self.finished_at else None,
            "duration_ms": self.duration_ms,
            "attempts": self.attempts,
            "users_fanned_out": self.users_fanned_out,
            "shards": self.shards,
            "progress_percent": self.progress_percent,
            "progress_message": self.progress_message,
            "result": self.result,
            "error": self.error,
            "worker": self.worker,
        }


class ShardStatus(models.TextChoices):
    """How one shard of a sharded fire stands."""

    PENDING = "pending", "pending (queued)"
    RUNNING = "running", "running"
    SUCCESS = Outcome.SUCCESS.value, "success"
    FAILED = Outcome.FAILED.value, "failed"
    TIMEOUT = Outcome.TIMEOUT.value, "timeout"
    SKIPPED_DUPLICATE = "skipped-duplicate", "skipped (shard already claimed)"


class ScheduleShardRun(FireRecord):
    """One shard of a sharded fire: its claim, its run, and how it ended.

    The slot's ScheduleRun aggregates its shards once none is pending or running.
    """

    Status = ShardStatus
    LIVE = (ShardStatus.PENDING, ShardStatus.RUNNING)

    run = models.ForeignKey(
        ScheduleRun, on_delete=models.CASCADE, related_name="shard_runs"
    )
    index = models.PositiveSmallIntegerField(help_text="0-based shard number.")
    status = models.CharField(max_length=20, choices=Status.choices, db_index=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    users_fanned_out = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "index", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "index"],
                condition=~Q(status=ShardStatus.SKIPPED_DUPLICATE),
                name="one_claim_per_shard",
            )
        ]
        indexes = [
            models.Index(fields=["status", "lease_expires_at"], name="shard_lease")
        ]

    def __str__(self):
        return f"{self.run} shard {self.index + 1}/{self.run.shards} {self.status}"


class Delivery(models.Model):
    """A user the fire of one slot has been delivered to (exactly once per slot).

    Written in batches, in the same transaction as the in-app notifications
    the handler sent that user, so a re-run skips exactly the users done.
    """

    run = models.ForeignKey(
        ScheduleRun,
        on_delete=models.DO_NOTHING,  # deleted in bulk with its run (retention)
        db_constraint=False,
        related_name="+",
    )
    user_id = models.CharField(max_length=128)

    class Meta:
        db_table = "scheduler_delivery"
        constraints = [
            models.UniqueConstraint(
                fields=["run", "user_id"], name="one_delivery_per_user"
            )
        ]

    def __str__(self):
        return f"{self.run_id} → {self.user_id}"
