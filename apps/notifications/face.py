"""ctx.notify: the async face extensions call, over notifications.core."""

from asgiref.sync import sync_to_async

from .core import send_notification


class NotifyFace:
    """Bound to one partition; call it like imperal-sdk's NotifyClient."""

    def __init__(self, partition):
        self._partition = partition

    async def __call__(self, message, **kwargs):
        """Send ``message`` to this context's user; return None (as the SDK does)."""
        await sync_to_async(send_notification)(self._partition, message, **kwargs)

    async def send(self, message, channel="in_app", **kwargs):
        """Alias of ``__call__`` with a named ``channel``."""
        await self(message, channel=channel, **kwargs)

    def __repr__(self):
        return f"<ctx.notify {self._partition}>"
