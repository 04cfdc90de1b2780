"""Dispatch on a table of the default database: the embedded default (no Redis).

The same semantics as the Redis streams (base.py), with conditional UPDATEs
whose row count says who won: claim (queued -> claimed), withdraw (queued ->
withdrawn), answer (claimed by this worker -> answered). Waiting is polling.
"""

import datetime
import time

from django.db import transaction
from django.utils import timezone
from imperal_sdk.rpc import RpcReply, RpcRequest

from ..models import PendingCall
from .base import DispatchBase, RuntimeBusy

State = PendingCall.State
# Answered or withdrawn rows nobody collected are deleted after this long.
KEEP_DONE = datetime.timedelta(minutes=10)


class Dispatch(DispatchBase):
    """PendingCall rows; ``poll`` seconds between looks at the table."""

    poll = 0.01
    claim_poll = 0.02

    def submit(self, request, bound, retry_after):
        with transaction.atomic():
            if (
                PendingCall.objects.of_app(request.app_id).outstanding().count()
                >= bound
            ):
                raise RuntimeBusy(request.app_id, bound, retry_after)
            PendingCall.objects.create(
                call_id=request.corr_id,
                app_id=request.app_id,
                request=request.model_dump(mode="json"),
                deadline_ns=request.deadline_ns,
            )
        PendingCall.objects.filter(
            state__in=(State.ANSWERED, State.WITHDRAWN),
            created_at__lt=timezone.now() - KEEP_DONE,
        ).delete()

    def wait(self, request, timeout):
        until = time.monotonic() + timeout
        calls = PendingCall.objects.filter(
            call_id=request.corr_id, state=State.ANSWERED
        )
        while True:
            reply = calls.values_list("reply", flat=True).first()
            if reply is not None:
                calls.delete()
                return RpcReply.model_validate(reply)
            if time.monotonic() >= until:
                return None
            time.sleep(self.poll)

    def withdraw(self, request):
        withdrawn = PendingCall.objects.filter(
            call_id=request.corr_id, state=State.QUEUED
        ).update(state=State.WITHDRAWN)
        return withdrawn == 1

    def claim(self, app_id, worker_id, wait):
        until = time.monotonic() + wait
        queued = PendingCall.objects.of_app(app_id).filter(state=State.QUEUED)
        while True:
            for pk in queued.order_by("id").values_list("pk", flat=True)[:8]:
                taken = PendingCall.objects.filter(pk=pk, state=State.QUEUED).update(
                    state=State.CLAIMED, worker_id=worker_id
                )
                if taken != 1:
                    continue
                request = RpcRequest.model_validate(
                    PendingCall.objects.get(pk=pk).request
                )
                if not self.expired(request):
                    return request
                self.answer(app_id, worker_id, self.expired_reply(request))
            if time.monotonic() >= until:
                return None
            time.sleep(self.claim_poll)

    def answer(self, app_id, worker_id, reply):
        answered = PendingCall.objects.filter(
            call_id=reply.corr_id,
            app_id=app_id,
            worker_id=worker_id,
            state=State.CLAIMED,
        ).update(state=State.ANSWERED, reply=reply.model_dump(mode="json"))
        return answered == 1

    def claims(self, app_id, worker_id):
        rows = PendingCall.objects.of_app(app_id).filter(
            worker_id=worker_id, state=State.CLAIMED
        )
        return [
            RpcRequest.model_validate(r) for r in rows.values_list("request", flat=True)
        ]

    def pending(self, app_id):
        return PendingCall.objects.of_app(app_id).outstanding().count()

    def reap_expired(self, app_id, grace):
        cutoff = time.time_ns() - int(grace * 1e9)
        held = PendingCall.objects.of_app(app_id).filter(
            state=State.CLAIMED, deadline_ns__lt=cutoff
        )
        reaped = 0
        for worker_id, payload in held.values_list("worker_id", "request"):
            request = RpcRequest.model_validate(payload)
            reaped += self.answer(app_id, worker_id, self.abandoned_reply(request))
        return reaped
