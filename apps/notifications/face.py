"""ctx.notify: the async face extensions call, over notifications.core."""

from asgiref.sync import sync_to_async

from apps.common import statements

from .core import insert_rows, notification_row, send_notification, translated
from .models import Notification

Channel = Notification.Channel


def notify_for(ctx):
    """Return the ctx.notify of a PlatformContext, bound to its partition."""
    return NotifyFace(ctx._partition, ctx._surface_for_user, ctx._fanout.outbox)


async def store_rows(operation):
    """Run an operation of notification rows (:func:`insert_rows`); return its result.

    PostgreSQL: on the async pool, so no hop to Django's thread; SQLite: on
    Django's connection. Raises NotifyUnavailable when the database fails.
    """
    if statements.pool_size():
        return await statements.run_pooled(operation, translated)
    return await _on_django(operation, translated)


_on_django = sync_to_async(statements.run_on_django)


class NotifyFace:
    """Bound to one partition; call it like imperal-sdk's NotifyClient.

    ``outbox`` (a fire's delivery ledger) may hold in-app rows back, to store
    them in the same transaction as the user's delivery record.
    """

    def __init__(self, partition, surface_for_user=None, outbox=None):
        self._partition = partition
        self._surface_for_user = surface_for_user
        self._outbox = outbox

    async def __call__(self, message, **kwargs):
        """Send ``message`` to this context's user; return None (as the SDK does).

        Raises NotifyTooLarge/ValueError/TypeError for bad arguments and
        NotifyForbidden (a PermissionError, recorded) for another user's
        ``user_id`` or extension's ``extension_id``, before anything is stored;
        NotifyUnavailable when the database fails.
        """
        if kwargs.get("channel") == Channel.EMAIL:
            await sync_to_async(send_notification)(self._partition, message, **kwargs)
        elif statements.pool_size():
            # In-app rows go straight to the async pool: a fan-out sends one
            # per user, and a hop to Django's thread would cost more.
            row = notification_row(self._partition, message, **kwargs)
            if not self._held(row):
                await statements.run_pooled(insert_rows([row]), translated)
        else:
            await sync_to_async(self._store_on_django)(message, kwargs)

    def _store_on_django(self, message, kwargs):
        row = notification_row(self._partition, message, **kwargs)
        if not self._held(row):
            statements.run_on_django(insert_rows([row]), translated)

    def _held(self, row):
        return self._outbox is not None and self._outbox.hold(row)

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
