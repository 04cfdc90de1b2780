"""The local dispatch's queue: one row per call of an isolated extension."""

from django.db import models


class PendingCallQuerySet(models.QuerySet):
    def of_app(self, app_id):
        return self.filter(app_id=app_id)

    def outstanding(self):
        """Calls queued or running: what the queue bound counts."""
        return self.filter(
            state__in=(PendingCall.State.QUEUED, PendingCall.State.CLAIMED)
        )


class PendingCall(models.Model):
    """A call on its way to a worker (the embedded default's dispatch, no Redis).

    Claimed by a conditional UPDATE (queued -> claimed, checked count), so one
    worker gets it; answered the same way (claimed by this worker -> answered).
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        CLAIMED = "claimed"
        ANSWERED = "answered"
        WITHDRAWN = "withdrawn"

    call_id = models.CharField(max_length=64, unique=True)
    app_id = models.CharField(max_length=128)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    worker_id = models.CharField(max_length=128, blank=True, default="")
    request = models.JSONField(help_text="imperal-sdk RpcRequest")
    reply = models.JSONField(null=True, blank=True, help_text="imperal-sdk RpcReply")
    deadline_ns = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PendingCallQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["app_id", "state", "id"])]

    def __str__(self):
        return f"{self.app_id} {self.call_id} {self.state}"
