"""Write traffic against a running platform, then check every acknowledged write.

Run as ``python -m tests.reliability.traffic CONFIG_JSON`` in a platform
environment (``services.platform_env``); it prints one JSON report. Three
kinds of client run on one event loop, each as its own user, each writing
increasing sequence numbers to its own keys:

- ``inprocess``: ``ctx.store.set`` through the kernel's context (async pool);
- ``gateway``: imperal-sdk's wire protocol over HTTP (create, then PATCH);
- ``tool``: the user API calling the probe's ``remember`` / ``recall`` tools
  (ctx.store and ctx.cache inside).

A write is *acknowledged* when its call returned success. Once the run ends
the driver waits for the store to answer, reads every key back in process
and counts a write *lost* when the stored sequence is below the last
acknowledged one (or missing); a stored value above it is a write whose
acknowledgement the fault swallowed (in doubt), which is allowed.
"""

import asyncio
import collections
import json
import os
import sys
import time
from pathlib import Path

import django

APP = "reliable"
COLLECTION = "notes"
VERIFY_TIMEOUT = 90.0


def percentile(values, fraction):
    """Return the ``fraction`` quantile of ``values`` (nearest rank), or None."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Client:
    """One client's counters, latencies and per-key state."""

    def __init__(self, kind, index, keys):
        self.kind, self.user = kind, f"rel-{kind}-{index}"
        self.keys = [f"k{n}" for n in range(keys)]
        self.acked = {}  # key -> last acknowledged sequence
        self.attempted = {}  # key -> last attempted sequence
        self.latencies, self.errors, self.error_times = [], collections.Counter(), []
        self.ok = 0
        self.cache = collections.Counter()  # tool reads: hit / miss / stale

    def failed(self, kind):
        self.errors[kind] += 1
        if len(self.error_times) < 20_000:
            self.error_times.append(time.time())

    async def run(self, deadline):
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            key = self.keys[seq % len(self.keys)]
            self.attempted[key] = seq
            started = time.monotonic()
            try:
                outcome = await self.write(key, seq)
            except Exception as exc:  # a driver exception is a finding: count it
                outcome = f"exception {type(exc).__module__}.{type(exc).__name__}"
            self.latencies.append(time.monotonic() - started)
            if outcome is None:
                self.acked[key] = seq
                self.ok += 1
                await self.after_ack(key, seq)
            else:
                self.failed(outcome)
                await asyncio.sleep(0.05)

    async def after_ack(self, key, seq):
        """A hook run after each acknowledged write (the tool client reads back)."""


class InProcessClient(Client):
    def __init__(self, index, keys, ctx):
        super().__init__("inprocess", index, keys)
        self.ctx = ctx

    async def write(self, key, seq):
        from apps.store.errors import StoreUnavailable

        try:
            await self.ctx.store.set(f"{COLLECTION}/{key}", {"seq": seq})
        except StoreUnavailable:
            return "StoreUnavailable"
        return None


class HttpClient(Client):
    """A client speaking JSON over one shared httpx client."""

    def __init__(self, kind, index, keys, http):
        super().__init__(kind, index, keys)
        self.http = http

    async def send(self, method, path, body, headers):
        """Return (status, JSON body or None); transport errors as (name, None)."""
        import httpx

        try:
            response = await self.http.request(method, path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"http {type(exc).__name__}", None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return response.status_code, payload


def _http_error(status, payload):
    code = ""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        code = payload["error"].get("code", "")
    return status if isinstance(status, str) else f"http {status} {code}".strip()


class GatewayClient(HttpClient):
    def __init__(self, index, keys, http, token):
        super().__init__("gateway", index, keys, http)
        self.headers = {"X-Service-Token": token, "X-Acting-User": self.user}
        self.created = set()

    async def write(self, key, seq):
        if key not in self.created:
            body = {"collection": COLLECTION, "data": {"doc_id": key, "seq": seq},
                    "user_id": self.user, "extension_id": APP}  # fmt: skip
            status, payload = await self.send(
                "POST", "/v1/internal/store", body, self.headers
            )
            if status == 201:
                self.created.add(key)
                return None
            if status != 409:
                return _http_error(status, payload)
            # An earlier create whose answer the fault swallowed did land.
            self.created.add(key)
        status, payload = await self.send(
            "PATCH", f"/v1/internal/store/{COLLECTION}/{key}",
            {"data": {"seq": seq}}, self.headers,
        )  # fmt: skip
        if status == 404:
            self.created.discard(key)
        return None if status == 200 else _http_error(status, payload)


class ToolClient(HttpClient):
    def __init__(self, index, keys, http, token):
        super().__init__("tool", index, keys, http)
        self.headers = {"Authorization": f"Token {token}"}

    async def call(self, tool, params):
        return await self.send(
            "POST", f"/api/v1/extensions/{APP}/tools/{tool}/call",
            {"params": params}, self.headers,
        )  # fmt: skip

    async def write(self, key, seq):
        status, payload = await self.call("remember", {"key": key, "value": seq})
        return None if status == 200 else _http_error(status, payload)

    async def after_ack(self, key, seq):
        status, payload = await self.call("recall", {"key": key})
        if status != 200:
            self.failed(_http_error(status, payload))
            return
        result = payload["result"]
        self.cache["hit" if result["cached"] else "miss"] += 1
        if result["value"] is None or result["value"] < seq:
            self.cache["stale"] += 1


def _context(ext, user_id):
    from apps.accounts.identity import PlatformUserContext
    from apps.extensions.context import build_context

    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id="default", role="user"
    )
    return build_context(ext, user)


def _api_token(user_id):
    from apps.accounts.models import ApiToken, User

    user, _ = User.objects.get_or_create(
        imperal_id=user_id, defaults={"username": user_id}
    )
    return ApiToken.issue(user)[1]


async def _verify(ext, clients):
    """Return (lost, in_doubt, examples) once every key could be read back."""
    from apps.store.errors import StoreUnavailable

    lost, in_doubt, examples = 0, 0, []
    deadline = time.monotonic() + VERIFY_TIMEOUT
    for client in clients:
        store = _context(ext, client.user).store
        for key, acked in client.acked.items():
            while True:
                try:
                    doc = await store.get(COLLECTION, key)
                    break
                except StoreUnavailable:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)
            stored = None if doc is None else doc.data.get("seq", doc.data.get("value"))
            if stored is None or stored < acked:
                lost += 1
                examples.append([client.user, key, acked, stored])
            elif stored > acked:
                in_doubt += 1
    return lost, in_doubt, examples[:20]


def _summary(clients, kind):
    mine = [client for client in clients if client.kind == kind]
    latencies = [value for client in mine for value in client.latencies]
    errors = collections.Counter()
    cache = collections.Counter()
    for client in mine:
        errors.update(client.errors)
        cache.update(client.cache)
    return {
        "clients": len(mine),
        "attempted": len(latencies),
        "acknowledged": sum(client.ok for client in mine),
        "errors": dict(errors),
        "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "max_ms": _ms(max(latencies, default=None)),
        **({"cache_reads": dict(cache)} if kind == "tool" else {}),
    }


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 1)


async def _drive(config, ext, clients):
    import httpx

    deadline = time.monotonic() + config["seconds"]
    started = time.time()
    await asyncio.gather(*(client.run(deadline) for client in clients))
    ended = time.time()
    lost, in_doubt, examples = await _verify(ext, clients)
    kinds = ("inprocess", "gateway", "tool")
    return {
        "started": started,
        "ended": ended,
        "by_kind": {kind: _summary(clients, kind) for kind in kinds},
        "lost": lost,
        "in_doubt": in_doubt,
        "lost_examples": examples,
        "error_times": sorted(t for c in clients for t in c.error_times),
        "httpx": httpx.__version__,
    }


def main(config):
    """Run the configured traffic; return the report (a dict)."""
    import httpx

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    django.setup()
    from apps.extensions.registry import get_registry
    from apps.gateway.tokens import issue_token

    ext = get_registry().get(APP).ext
    count, keys = config["clients"], config.get("keys", 10)
    limits = httpx.Limits(max_connections=4 * count + 4)
    http = httpx.AsyncClient(
        base_url=config["url"], timeout=config.get("http_timeout", 30), limits=limits
    )
    token = issue_token(APP).raw
    clients = []
    for index in range(count):
        clients.append(
            InProcessClient(index, keys, _context(ext, f"rel-inprocess-{index}"))
        )
        clients.append(GatewayClient(index, keys, http, token))
        clients.append(ToolClient(index, keys, http, _api_token(f"rel-tool-{index}")))
    if config.get("ready_file"):
        Path(config["ready_file"]).touch()
    return asyncio.run(_drive(config, ext, clients))


if __name__ == "__main__":
    json.dump(main(json.loads(sys.argv[1])), sys.stdout)
