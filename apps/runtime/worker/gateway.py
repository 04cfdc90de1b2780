"""The worker's only way to the platform's dispatch: two gateway routes, one token."""

import httpx
from imperal_sdk.rpc import RpcRequest

# A claim long-polls up to its ``wait``; the HTTP timeout leaves room for it.
HTTP_SLACK_SECONDS = 10


class DispatchGone(Exception):
    """The gateway refused the worker's runtime token, or is unreachable."""


class GatewayDispatch:
    """Claim calls of one extension and answer them, with its runtime token."""

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
        try:
            response = self.client.post(self.base + path, json=body)
        except httpx.HTTPError as exc:
            raise DispatchGone(f"gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise DispatchGone(
                f"gateway refused the runtime token ({response.status_code})"
            )
        if response.status_code not in accept:
            raise DispatchGone(
                f"gateway answered {response.status_code} to {path}: {response.text[:200]}"
            )
        return response
