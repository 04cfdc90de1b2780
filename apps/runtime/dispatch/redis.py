"""Dispatch on Redis streams: one stream per extension, consumer group ``workers``.

The caller XADDs the RpcRequest (a Lua script refuses it past the bound) and
BLPOPs the call's reply list. A claim is XREADGROUP for the worker (its
consumer name) plus ``SET state claimed NX``; a withdrawal is ``SET state
withdrawn NX``: whichever comes first wins, so a call is run by one worker or
by none. Answering (a Lua script) checks the state still says this worker,
pushes the reply, XACKs and XDELs the entry: an entry in the stream is a call
queued or running, so XLEN is the pending count the bound applies to.
"""

import json
import time

import redis
from django.conf import settings
from imperal_sdk.rpc import RpcReply, RpcRequest

from .base import DispatchBase, DispatchError, RuntimeBusy

GROUP = "workers"
REPLY_TTL_SECONDS = 120
STATE_GRACE_SECONDS = 120
CLAIMS_SCAN = 100
BLOCK_CHUNK = 2.0  # seconds one blocking Redis read waits at most

SUBMIT = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'payload', ARGV[2])
"""
# ARGV[1] is the holder's state up to its stream entry id (see _holder), which
# the script reads from the state itself: one round trip per answer.
ANSWER = """
local state = redis.call('GET', KEYS[1])
if not state or string.sub(state, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
local entry = string.sub(state, #ARGV[1] + 1)
if entry == '' or string.find(entry, '|', 1, true) then return 0 end
redis.call('SET', KEYS[1], 'answered', 'KEEPTTL')
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('XACK', KEYS[3], ARGV[4], entry)
redis.call('XDEL', KEYS[3], entry)
return 1
"""


class Dispatch(DispatchBase):
    """Redis streams at settings.REDIS_URL, keys under CACHE_KEY_PREFIX."""

    def __init__(self, url=None, prefix=None):
        # Blocking reads are bounded here (BLOCK_CHUNK), not by a socket timeout.
        self.client = redis.Redis.from_url(
            url or settings.REDIS_URL, socket_timeout=None, socket_connect_timeout=5
        )
        self.prefix = f"{prefix or settings.CACHE_KEY_PREFIX}:rpc"
        self._submit = self.client.register_script(SUBMIT)
        self._answer = self.client.register_script(ANSWER)
        self._groups = set()
        self._entries = {}  # call id -> stream entry id, for withdraw()

    # --- keys ---

    def _stream(self, app_id):
        return f"{self.prefix}:{app_id}"

    def _state(self, call_id):
        return f"{self.prefix}:state:{call_id}"

    def _reply(self, call_id):
        return f"{self.prefix}:reply:{call_id}"

    # --- caller side ---

    def submit(self, request, bound, retry_after):
        payload = json.dumps(request.model_dump(mode="json"))
        with _translated():
            entry = self._submit(
                keys=[self._stream(request.app_id)], args=[bound, payload]
            )
        if entry is None:
            raise RuntimeBusy(request.app_id, bound, retry_after)
        self._entries[request.corr_id] = entry

    def wait(self, request, timeout):
        until = time.monotonic() + timeout
        key = self._reply(request.corr_id)
        popped = None
        while popped is None:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return None
            with _translated():
                # 0 would block for ever: wait at least 10 ms.
                chunk = max(0.01, min(remaining, BLOCK_CHUNK))
                popped = self.client.blpop([key], timeout=chunk)
        self._entries.pop(request.corr_id, None)
        return RpcReply.model_validate_json(popped[1])

    def withdraw(self, request):
        ttl = _ttl(request)
        entry = self._entries.pop(request.corr_id, None)
        with _translated():
            if not self.client.set(
                self._state(request.corr_id), "withdrawn", nx=True, ex=ttl
            ):
                return False
            if entry is not None:
                self.client.xdel(self._stream(request.app_id), entry)
        return True

    # --- worker side (through the gateway) ---

    def claim(self, app_id, worker_id, wait):
        stream = self._stream(app_id)
        until = time.monotonic() + wait
        while True:
            remaining = min(until - time.monotonic(), BLOCK_CHUNK)
            block_ms = max(1, int(remaining * 1000))
            with _translated():
                read = self._grouped(
                    stream,
                    self.client.xreadgroup,
                    GROUP,
                    worker_id,
                    {stream: ">"},
                    count=1,
                    block=block_ms,
                )
            for _, entries in read or ():
                for entry_id, fields in entries:
                    request = self._take(stream, worker_id, entry_id, fields)
                    if request is not None:
                        return request
            if time.monotonic() >= until:
                return None

    def _take(self, stream, worker_id, entry_id, fields):
        """Return the request of a read entry when this worker now holds it, else None."""
        entry = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        request = RpcRequest.model_validate_json(fields[b"payload"])
        holder = _holder(request.app_id, worker_id, entry)
        if not self.client.set(
            self._state(request.corr_id), holder, nx=True, ex=_ttl(request)
        ):
            self.client.xack(stream, GROUP, entry)  # withdrawn by its caller
            self.client.xdel(stream, entry)
            return None
        if self.expired(request):
            self.answer(request.app_id, worker_id, self.expired_reply(request))
            return None
        return request

    def answer(self, app_id, worker_id, reply):
        payload = json.dumps(reply.model_dump(mode="json"))
        keys = [
            self._state(reply.corr_id),
            self._reply(reply.corr_id),
            self._stream(app_id),
        ]
        # False for a call another worker or extension holds, or already answered.
        args = [_holder(app_id, worker_id, ""), payload, REPLY_TTL_SECONDS, GROUP]
        with _translated():
            return bool(self._answer(keys=keys, args=args))

    def claims(self, app_id, worker_id):
        with _translated():
            return [request for _, request in self._held(app_id, worker_id)]

    def reap_expired(self, app_id, grace):
        cutoff = time.time_ns() - int(grace * 1e9)
        reaped = 0
        with _translated():
            for consumer, request in self._held(app_id):
                if request.deadline_ns < cutoff:
                    reply = self.abandoned_reply(request)
                    reaped += self.answer(app_id, consumer, reply)
        return reaped

    def _held(self, app_id, worker_id=None):
        """Return [(consumer, RpcRequest)] of the calls claimed and not answered
        (by ``worker_id`` only, when given), at most CLAIMS_SCAN."""
        stream = self._stream(app_id)
        only = {"consumername": worker_id} if worker_id is not None else {}
        pending = self._grouped(
            stream,
            self.client.xpending_range,
            stream,
            GROUP,
            min="-",
            max="+",
            count=CLAIMS_SCAN,
            **only,
        )
        held = []
        for item in pending:
            consumer = item["consumer"]
            consumer = consumer.decode() if isinstance(consumer, bytes) else consumer
            entry = item["message_id"]
            for _, fields in self.client.xrange(stream, entry, entry):
                held.append(
                    (consumer, RpcRequest.model_validate_json(fields[b"payload"]))
                )
        return held

    def pending(self, app_id):
        with _translated():
            return self.client.xlen(self._stream(app_id))

    def _grouped(self, stream, command, *args, **kwargs):
        """Run a consumer-group ``command``, creating the group first if need be
        (again if the stream was deleted since, e.g. by a Redis without persistence
        restarting)."""
        self._ensure_group(stream)
        try:
            return command(*args, **kwargs)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
        self._groups.discard(stream)
        self._ensure_group(stream)
        return command(*args, **kwargs)

    def _ensure_group(self, stream):
        if stream in self._groups:
            return
        try:
            self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise DispatchError(f"runtime dispatch: {exc}") from None
        self._groups.add(stream)


def _holder(app_id, worker_id, entry):
    """Return the state of a call ``worker_id`` of ``app_id`` claimed (stream
    ``entry``; with ``""`` the prefix the ANSWER script matches)."""
    return f"claimed|{app_id}|{worker_id}|{entry}"


def _ttl(request):
    remaining = (request.deadline_ns - time.time_ns()) / 1e9
    return max(1, int(remaining) + STATE_GRACE_SECONDS)


class _translated:
    """Turn a Redis failure into DispatchError (the caller sees 503, retryable)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, redis.RedisError) and not isinstance(
            exc, redis.ResponseError
        ):
            raise DispatchError(
                f"runtime dispatch: Redis failed ({type(exc).__name__})"
            ) from exc
        return False
