"""ctx.notify: the async face extensions call, over notifications.core."""

from asgiref.sync import sync_to_async

from imperal_platform import statements

from .core import build_notification, insert_operation, send_notification, translated
from .models import Notification

Channel = Notification.Channel


def notify_for(ctx):
    """Return the ctx.notify of a PlatformContext, bound to its partition."""
    return NotifyFace(ctx._partition, ctx.surface_for_user)


class NotifyFace:
    """Bound to one partition; call it like imperal-sdk's NotifyClient."""

    def __init__(self, partition, surface_for_user=None):
        self._partition = partition
        self._surface_for_user = surface_for_user

    async def __call__(self, message, **kwargs):
        """Send ``message`` to this context's user; return None (as the SDK does).

        Raises NotifyTooLarge/ValueError/TypeError for bad arguments and
        NotifyForbidden (a PermissionError, recorded) for another user's
        ``user_id`` or extension's ``extension_id``, before anything is stored;
        NotifyUnavailable when the database fails.
        """
        if not statements.pool_size() or kwargs.get("channel") == Channel.EMAIL:
            await sync_to_async(send_notification)(self._partition, message, **kwargs)
            return
        # In-app rows go straight to the async pool: a fan-out sends one per
        # user, and a hop to Django's thread would cost more than the insert.
        notification = build_notification(self._partition, message, **kwargs)
        await statements.run_pooled(insert_operation(notification), translated)

    async def send(self, message, channel="in_app", **kwargs):
        """Alias of ``__call__`` with a named ``channel``."""
        await self(message, channel=channel, **kwargs)

    def for_user(self, user_id):
        """Return ``user_id``'s notify (imperal-sdk's webhook escape hatch).

        System context only, exactly as ``ctx.as_user``: any other caller gets
        RuntimeError and a security event.
        """
        return self._surface_for_user("notify", user_id)

    def __repr__(self):
        return f"<ctx.notify {self._partition}>"
