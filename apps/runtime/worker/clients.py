"""imperal-sdk's notify and secrets clients as a worker's ctx holds them.

Two differences from the SDK's, both what the same ctx does in-process:
``for_user(uid)`` is ``ctx.as_user(uid)``'s surface (system and webhook contexts
only: RuntimeError elsewhere), and ``ctx.notify`` raises when the platform
refuses a notification (another user named, too large) instead of dropping it
silently — apps.runtime.worker.errors says with what.
"""

from imperal_sdk._shared_http import shared_http
from imperal_sdk.notify.client import NotifyClient
from imperal_sdk.secrets.client import SecretClient

from .errors import error_of

NOTIFY_TIMEOUT_SECONDS = 10


class CallTokenNotifyClient(NotifyClient):
    """imperal-sdk's NotifyClient with the invocation's call token (see module doc)."""

    owner = None  # the WorkerContext this client belongs to

    async def __call__(self, message, **kwargs):
        """Send a notification to the context's user; return None.

        Raises Forbidden (a PermissionError) when it names another user,
        PayloadTooLarge (a ValueError) past the platform's limits, QuotaExceeded.
        """
        payload = {"user_id": self._user_id, "message": message}
        if self._extension_id:
            payload["extension_id"] = self._extension_id
        payload.update(kwargs)
        async with shared_http() as client:
            response = await client.post(
                f"{self._gateway_url}/v1/internal/notify",
                json=payload,
                headers=self.headers(),
                timeout=NOTIFY_TIMEOUT_SECONDS,
            )
        if response.status_code >= 400:
            raise error_of(response, "ctx.notify")

    def headers(self):
        """Return the request headers: the call token, and the context's user as the
        acting user, so a ``user_id`` argument naming anyone else is refused (and
        recorded) by the gateway even for a system call's token, as in-process."""
        return {
            "Authorization": f"Bearer {self._auth_token}",
            "X-Acting-User": self._user_id,
        }

    def for_user(self, user_id):
        """Return ``user_id``'s notify (system and webhook contexts only)."""
        return self.owner.as_user(user_id).notify

    def __repr__(self):
        return f"<ctx.notify of {self._user_id!r} through the platform>"


class CallTokenSecretClient(SecretClient):
    """imperal-sdk's SecretClient with the invocation's call token (see module doc)."""

    owner = None  # the WorkerContext this client belongs to

    def for_user(self, user_id):
        """Return ``user_id``'s secrets (system and webhook contexts only)."""
        return self.owner.as_user(user_id).secrets

    def __repr__(self):
        return f"<ctx.secrets of {self._imperal_id!r} through the platform>"
