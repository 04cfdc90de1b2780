"""A fire's delivery ledger in an isolated worker: the kernel's, kept across the gateway.

In-process, a fire's DeliveryLedger (apps/scheduler/delivery.py) sees each
user's iteration of the ``list_users`` loop, holds that user's in-app
notifications until the loop moves past the user, and stores a batch of
finished users with their notifications in one transaction. A worker does the
same: its ``list_users`` tells the :class:`WorkerLedger` where each user's
iteration starts and ends, its ``ctx.notify`` holds those users' in-app
notifications (each checked when it is sent, so a bad one raises where it is
sent, as in-process: its content by the platform's own rules,
apps.notifications.rules, in the worker; one naming a user or an extension by
the gateway, which records a refused one), and each batch of finished users goes
to the gateway's ``POST /v1/internal/deliveries`` with their notifications,
stored there in one transaction with their delivery rows. The gateway skips
delivered users in a re-run's ``list_users``.

A user is delivered once its iteration finished and that report was stored.
A handler that fails or times out mid-user leaves that user (its held
notifications dropped) to a re-run of the slot, which delivers it whole.
"""

import json
import logging

from imperal_sdk._shared_http import shared_http

from apps.notifications.rules import NotifyTooLarge, checked_content

from .clients import CallTokenNotifyClient
from .envelope import CALL_TOKEN_SCHEME
from .errors import PayloadTooLarge, error_of

logger = logging.getLogger("imperal.worker")
DELIVERIES_ROUTE = "/v1/internal/deliveries"
HOLD_ROUTE = "/v1/internal/deliveries/hold"
USERS_MAX = 1000  # the gateway's bound on one report
# ctx.notify arguments that name whom a notification is for (a user, an extension):
# a held notification carrying one goes to the gateway, which alone may judge and
# record it.
ADDRESSING_ARGUMENTS = ("user_id", "extension_id")
# A report goes before its held notifications' JSON passes this many bytes
# (the gateway's body limit is larger), at the next user's boundary.
HELD_BYTES_MAX = 1024 * 1024
HTTP_TIMEOUT = 30


class NoLedger:
    """The fan-out hooks of a call that is not a fire's: nothing is held or recorded."""

    def entered(self, user_id):
        """``list_users`` is about to yield ``user_id``."""

    async def finished(self, user_id):
        """The loop asked for the user after ``user_id``."""

    async def exhausted(self):
        """``list_users`` yielded its last user."""

    def holds(self, user_id):
        """Return whether ``user_id``'s in-app notifications wait for its delivery."""
        return False

    async def close(self, succeeded):
        """Report what the call finished (see WorkerLedger.close); return how many."""
        return 0


class WorkerLedger(NoLedger):
    """A fire's ledger in its worker; reports go to the gateway with the call token."""

    def __init__(self, gateway_url, call_token, batch_size):
        self.url = gateway_url.rstrip("/")
        self.headers = {"Authorization": f"{CALL_TOKEN_SCHEME} {call_token}"}
        self.batch_size = max(1, min(batch_size, USERS_MAX))
        self._current, self._current_rows = None, []
        self._done, self._done_set, self._held, self._held_bytes = [], set(), [], 0

    def entered(self, user_id):
        self._current, self._current_rows = str(user_id), []

    async def finished(self, user_id):
        self._complete_current()
        full = len(self._done) >= self.batch_size
        if full or self._held_bytes >= HELD_BYTES_MAX:
            await self.flush()

    async def exhausted(self):
        await self.flush()

    def holds(self, user_id):
        return user_id == self._current or user_id in self._done_set

    async def check(self, payload, acting_user):
        """Have the gateway check ``payload`` (a NotifyClient body) as the notify of
        ``acting_user``'s context would; raise what ctx.notify raises when
        refused (Forbidden, a PermissionError; PayloadTooLarge or ValueError;
        QuotaExceeded)."""
        async with shared_http() as client:
            response = await client.post(
                self.url + HOLD_ROUTE,
                json=payload,
                headers={**self.headers, "X-Acting-User": acting_user},
                timeout=HTTP_TIMEOUT,
            )
        if response.status_code != 200:
            raise error_of(response, "ctx.notify")

    def hold(self, payload):
        """Keep ``payload`` (checked) until its user's delivery is reported."""
        if payload["user_id"] == self._current:
            self._current_rows.append(payload)
        else:
            self._held.append(payload)
        self._held_bytes += len(json.dumps(payload, default=str))

    async def flush(self):
        """Report the finished users with their notifications; return how many.

        Raises RuntimeError naming the gateway's refusal when they were not stored.
        """
        if not self._done:
            return 0
        body = {"users": self._done, "notifications": self._held}
        async with shared_http() as client:
            response = await client.post(
                self.url + DELIVERIES_ROUTE,
                json=body,
                headers=self.headers,
                timeout=HTTP_TIMEOUT,
            )
        if response.status_code != 200:
            refused = error_of(response, "the fire's deliveries")
            raise RuntimeError(f"the fire's deliveries were not recorded: {refused}")
        count = len(self._done)
        self._done, self._done_set, self._held, self._held_bytes = [], set(), [], 0
        return count

    async def close(self, succeeded):
        """Report what the call finished. After a success the user in progress
        (a handler that broke out of its loop) is finished too; after a failure
        or timeout its notifications are dropped, so a re-run delivers it whole."""
        if self._current is not None and succeeded:
            self._complete_current()
        elif self._current_rows:
            logger.warning(
                "%d notification(s) of unfinished user %s not stored; a re-run of "
                "the slot delivers that user again",
                len(self._current_rows),
                self._current,
            )
        self._current, self._current_rows = None, []
        return await self.flush()

    def _complete_current(self):
        if self._current is None:
            return
        if self._current not in self._done_set:
            self._done.append(self._current)
            self._done_set.add(self._current)
        self._held += self._current_rows
        self._current, self._current_rows = None, []


class LedgerNotifyClient(CallTokenNotifyClient):
    """imperal-sdk's NotifyClient whose in-app notifications to a user the fire's
    ledger holds wait for that user's delivery (any other is sent at once)."""

    _ledger = NoLedger()  # the call's, set by build_worker_context

    async def __call__(self, message, **kwargs):
        """Send ``message`` to this client's user, or hold it for its delivery.

        A held one is checked first — its content here, by the platform's own
        rules; a user or extension it names, by the gateway — and raises
        ValueError/PermissionError as ctx.notify does in-process when refused.
        """
        if kwargs.get("channel") == "email" or not self._ledger.holds(self._user_id):
            return await super().__call__(message, **kwargs)
        payload = {"user_id": self._user_id, "message": message}
        if self._extension_id:
            payload["extension_id"] = self._extension_id
        payload.update(kwargs)
        if any(name in kwargs for name in ADDRESSING_ARGUMENTS):
            await self._ledger.check(payload, self._user_id)
        else:
            check_content(message, kwargs)
        self._ledger.hold(payload)


def check_content(message, fields):
    """Check a held notification's content by the platform's rules; return None.

    Raises what the gateway's check makes ctx.notify raise in a worker:
    PayloadTooLarge (a ValueError) over a limit, ValueError for any other bad value.
    """
    try:
        checked_content(message, fields)
    except NotifyTooLarge as exc:
        raise PayloadTooLarge(str(exc), code=exc.code, status=exc.status) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
