"""What an isolated worker tells the kernel about the call it runs: its
``ctx.progress`` reports and a fire's deliveries. A call token only: each route
acts for the one invocation the kernel minted the token for.

- ``POST /v1/internal/progress`` ``{"percent", "message"?}``: the call's last
  report, kept for the kernel waiting for the call (apps/runtime/progress.py),
  bounded as in-process (:func:`apps.extensions.context.progress_report`); at
  most ``Progress.rate`` (10) reports a second per call (429 ``throttled`` beyond).
- ``POST /v1/internal/deliveries/hold`` ``{"user_id", "message", …}`` (imperal-sdk
  NotifyClient's body): check an in-app notification a fire's worker holds
  back until its user is delivered, exactly as ``/v1/internal/notify`` would;
  nothing is stored. ``{"held": true}``. A worker asks for one that names a
  user or an extension (it checks content by apps.notifications.rules itself).
- ``POST /v1/internal/deliveries`` ``{"users": [...], "notifications": [...]}``:
  users whose ``list_users`` iteration finished, with the notifications held
  for them, stored in one transaction with their delivery rows on the fire's
  ledger (apps/scheduler/delivery.py). Every user must be in the token's shard
  (403 and a security event otherwise). ``{"recorded": n}``.
"""

import math
import time

from rest_framework.exceptions import MethodNotAllowed, Throttled
from rest_framework.response import Response

from apps.accounts.ids import check_user_id
from apps.accounts.partition import Partition
from apps.accounts.security import PRIVILEGED_IDS, SYSTEM_ID, record_threat
from apps.common.ratelimit import counter_for, window_key
from apps.extensions.context import progress_report
from apps.notifications.core import notification_row
from apps.notifications.models import Notification
from apps.runtime.progress import keep_report
from apps.scheduler.delivery import record_delivered
from apps.store.shards import Shard

from .. import calltokens, wire
from ..authentication import CallTokenAuthentication
from ..identity import GatewayForbidden, acting_partition
from .base import GatewayView
from .notify import ROUTING_FIELDS

DELIVERED_USERS_MAX = 1000  # users one report may name


class CallTokenRoute(GatewayView):
    """A POST route that only an invocation's call token may use."""

    authentication_classes = [CallTokenAuthentication]
    http_method_names = ["post"]

    def initial(self, request, *args, **kwargs):
        # A method the route lacks is a 405 whoever asks, before the 401.
        if request.method.lower() not in self.http_method_names:
            raise MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


class Progress(CallTokenRoute):
    """Keep a worker's ``ctx.progress(percent, message)`` for its call's kernel.

    At most ``rate`` reports a second per call, the second read from ``timer``.
    """

    rate = 10  # a worker sends at most one a second
    timer = staticmethod(time.time)

    def post(self, request):
        call_id = request.user.call_id
        if not call_id:
            raise GatewayForbidden(
                "gateway: progress is reported with the call token the kernel "
                "minted for the call; this token names no call"
            )
        body = wire.body_of(request)
        message = body.get("message", "")
        if not isinstance(message, str):
            raise TypeError("ctx.progress: message must be a string")
        percent, message = progress_report(body.get("percent"), message)
        if not math.isfinite(percent):
            raise ValueError(f"ctx.progress: percent must be finite, got {percent}")
        self.count_report(call_id)
        keep_report(call_id, percent, message, calltokens.max_lifetime())
        return Response({"kept": True})

    def count_report(self, call_id):
        """Count one report of ``call_id`` in its second; raise Throttled (429,
        Retry-After) past ``rate``."""
        key, left = window_key("progress", call_id, 1, self.timer())
        if counter_for().incr(key, 2) > self.rate:
            raise Throttled(
                wait=max(1, math.ceil(left)),
                detail=f"ctx.progress: at most {self.rate} reports a second per call",
            )


class HoldNotification(CallTokenRoute):
    """Check a notification a fire's worker holds for its user's delivery."""

    def post(self, request):
        fire_scope(request.user)
        body = wire.body_of(request)
        held_row(acting_partition(request, body), body)
        return Response({"held": True})


class Deliveries(CallTokenRoute):
    """Record a batch of delivered users and their held notifications."""

    def post(self, request):
        identity = request.user
        scope = fire_scope(identity)
        body = wire.body_of(request)
        users = delivered_users(identity, scope, body.get("users"))
        rows = held_rows(identity, users, body.get("notifications", []))
        return Response({"recorded": record_delivered(scope.run_id, users, rows)})


def fire_scope(identity):
    """Return the FanOutScope of a fire's system call token; GatewayForbidden else."""
    if identity.fan_out is None or identity.user_id != SYSTEM_ID:
        raise GatewayForbidden(
            "gateway: deliveries are reported with the call token of a schedule's "
            f"fire only ({identity.credential} is not one)"
        )
    return identity.fan_out


def delivered_users(identity, scope, users):
    """Return ``users`` (a list of user ids) without repeats, each checked.

    Raises ValueError for a list that is empty, too long or holds a malformed
    or privileged id, GatewayForbidden (recorded) for a user outside the
    scope's shard.
    """
    wire.user_list(users, DELIVERED_USERS_MAX)
    shard = Shard(scope.shard_index, scope.shard_count)
    for user_id in users:
        check_user_id(user_id, "gateway: a delivered user")
        if user_id in PRIVILEGED_IDS:
            raise ValueError(f"gateway: {user_id!r} is a platform identity, not a user")
        if not shard.holds(user_id):
            record_threat(
                "gateway_shard_mismatch",
                identity.own_partition(),
                source="users",
                named=user_id,
                allowed=str(shard),
                credential=identity.credential,
            )
            raise GatewayForbidden(
                f"gateway: user {user_id!r:.80} is not in this fire's shard {shard} "
                f"({identity.credential}); a shard delivers to its own users only"
            )
    return list(dict.fromkeys(users))


def held_rows(identity, users, notifications):
    """Return the notification rows of ``notifications``, each checked as
    ``/v1/internal/notify`` checks one and addressed to one of ``users``.

    Raises ValueError/TypeError (or NotifyForbidden) naming the first bad one.
    """
    if not isinstance(notifications, list):
        raise ValueError("gateway: notifications must be a list")
    delivered = set(users)
    rows = []
    for index, fields in enumerate(notifications):
        user_id = fields.get("user_id") if isinstance(fields, dict) else None
        if user_id not in delivered:
            raise ValueError(
                f"gateway: notifications[{index}] must be an object whose user_id "
                "is one of the users this report delivers"
            )
        partition = Partition(identity.tenant_id, identity.app_id, user_id)
        rows.append(held_row(partition, fields))
    return rows


def held_row(partition, fields):
    """Return the validated row of one held notification to ``partition``'s user.

    Raises what ctx.notify raises for it; ValueError for an email, which is
    sent at once, never held (as in-process).
    """
    kwargs = {k: v for k, v in fields.items() if k not in ROUTING_FIELDS}
    if kwargs.get("channel") == Notification.Channel.EMAIL:
        raise ValueError("gateway: an email is sent at once, never held for delivery")
    return notification_row(partition, fields.get("message"), **kwargs)
