"""ctx.notify: the async face extensions call, over notifications.core."""

from asgiref.sync import sync_to_async

from apps.extensions.security import record_threat
from apps.store import pool

from .core import build_notification, insert_operation, send_notification, translated


class NotifyFace:
    """Bound to one partition; call it like imperal-sdk's NotifyClient."""

    def __init__(self, partition, as_user=None):
        self._partition = partition
        self._as_user = as_user

    async def __call__(self, message, **kwargs):
        """Send ``message`` to this context's user; return None (as the SDK does).

        Raises ValueError/TypeError for bad arguments before anything is
        stored, and NotifyUnavailable when the database fails.
        """
        pool_size = pool.size()
        if not pool_size or kwargs.get("channel") == "email":
            await sync_to_async(send_notification)(self._partition, message, **kwargs)
            return
        # In-app rows go straight to the async pool: a fan-out sends one per
        # user, and a hop to Django's thread would cost more than the insert.
        notification = build_notification(self._partition, message, **kwargs)
        await pool.run(insert_operation(notification), pool_size, translated)

    async def send(self, message, channel="in_app", **kwargs):
        """Alias of ``__call__`` with a named ``channel``."""
        await self(message, channel=channel, **kwargs)

    def for_user(self, user_id):
        """Return ``user_id``'s notify (imperal-sdk's webhook escape hatch).

        Only the system context may address another user, as with
        ``ctx.as_user``; any other caller gets RuntimeError and a security event.
        """
        if self._as_user is None or not self._partition.is_system:
            record_threat(
                "notify_for_user_from_user_context",
                self._partition,
                target=str(user_id),
            )
            raise RuntimeError(
                f"ctx.notify.for_user() requires system context "
                f"(got {self._partition.user_id!r})"
            )
        return self._as_user(user_id).notify

    def __repr__(self):
        return f"<ctx.notify {self._partition}>"
