"""The worker's only way to the platform's dispatch: two gateway routes, one token."""

import logging
import time

import httpx
from imperal_sdk.rpc import RpcRequest

log = logging.getLogger(__name__)

# A claim long-polls up to its ``wait``; the HTTP timeout leaves room for it.
HTTP_SLACK_SECONDS = 10


class DispatchGone(Exception):
    """The gateway refused the worker's runtime token, or is unreachable."""


class GatewayDispatch:
    """Claim calls of one extension and answer them, with its runtime token.

    A transport failure (a keep-alive connection the server closed as it was
    reused, a server restarting) is retried with backoff for ``gone_after``
    seconds before the gateway counts as gone: a worker that exited on the
    first one would fail the call it had just finished.
    """

    gone_after = 30.0
    first_pause = 0.05
    max_pause = 2.0
    clock = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)

    def __init__(self, gateway_url, runtime_token, worker_id, wait=2.0, client=None):
        self.base = gateway_url.rstrip("/")
        self.worker_id = worker_id
        self.wait = wait
        self.client = client or httpx.Client(
            headers={"Authorization": f"Bearer {runtime_token}"},
            timeout=wait + HTTP_SLACK_SECONDS,
        )

    def claim(self):
        """Return the next RpcRequest, or None when none came within ``wait`` s."""
        response = self._post(
            "/v1/runtime/claim", {"worker_id": self.worker_id, "wait": self.wait}
        )
        if response.status_code == 204:
            return None
        return RpcRequest.model_validate(response.json()["request"])

    def reply(self, reply):
        """Deliver RpcReply ``reply``; return False when the call is no longer ours."""
        response = self._post(
            "/v1/runtime/reply",
            {"worker_id": self.worker_id, "reply": reply.model_dump(mode="json")},
            accept=(200, 409),
        )
        return response.status_code == 200

    def _post(self, path, body, accept=(200, 204)):
        response = self._send(path, body)
        if response.status_code in (401, 403):
            raise DispatchGone(
                f"gateway refused the runtime token ({response.status_code})"
            )
        if response.status_code not in accept:
            raise DispatchGone(
                f"gateway answered {response.status_code} to {path}: {response.text[:200]}"
            )
        return response

    def _send(self, path, body):
        """Return the gateway's response to POST ``path``; raise DispatchGone once
        it has been unreachable for ``gone_after`` seconds."""
        give_up_at = self.clock() + self.gone_after
        pause = self.first_pause
        while True:
            try:
                return self.client.post(self.base + path, json=body)
            except httpx.TransportError as exc:
                if self.clock() + pause > give_up_at:
                    raise DispatchGone(
                        f"gateway unreachable for {self.gone_after:g} s: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                log.warning("%s failed (%s); retrying", path, type(exc).__name__)
                self.sleep(pause)
                pause = min(pause * 2, self.max_pause)
