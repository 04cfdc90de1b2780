"""An invocation and its outcome as plain data, and their imperal-sdk ``rpc`` envelope.

Nothing here imports Django: the worker reads and writes the same envelope.
An :class:`Invocation` says what to run, as whom and for how long; an
:class:`Outcome` says how it ended. On the wire they are imperal-sdk's
``RpcRequest`` / ``RpcReply``; what the envelope has no field for (the kind of
call, the ctx's tool type, the call token) travels under one reserved key of
``RpcRequest.attributes``, and a reply's JSON value under ``result["value"]``.
"""

import secrets
import time
from dataclasses import dataclass, field

from imperal_sdk.rpc import (
    RpcErrorCategory,
    RpcReply,
    RpcRequest,
    RpcStatus,
    build_error_reply,
)

# What an invocation runs: each maps to the handler table the worker looks in.
KINDS = ("tool", "panel", "chat", "schedule", "skeleton", "webhook", "hook", "health")
SUCCESS, FAILED, TIMEOUT = "success", "failed", "timeout"
# RpcRequest.attributes key holding what the envelope has no field for.
INVOCATION_KEY = "imperal.invocation"
# Reply lists (and reply wait) use this prefix; one list per call.
REPLY_LIST_PREFIX = "imperal:rpc:reply:"
# The identities a call may run as that act for other users (ctx.as_user).
PRIVILEGED_IDS = ("__system__", "__webhook__")
# The Authorization scheme of the call token a worker sends the gateway.
CALL_TOKEN_SCHEME = "ImperalCallToken"


@dataclass(frozen=True)
class Identity:
    """Whom a call runs as: imperal-sdk's UserContext fields, as plain data."""

    user_id: str
    tenant_id: str
    email: str = ""
    role: str = "user"
    agency_id: str = None
    scopes: tuple = ()
    attributes: dict = field(default_factory=dict)

    @classmethod
    def of(cls, user):
        """Return the Identity of an imperal-sdk UserContext."""
        return cls(
            user_id=user.imperal_id,
            tenant_id=user.tenant_id,
            email=user.email or "",
            role=user.role or "user",
            agency_id=user.agency_id,
            scopes=tuple(user.scopes or ()),
            attributes=dict(user.attributes or {}),
        )


@dataclass(frozen=True)
class FanOutScope:
    """What a schedule's fire lets one invocation fan out to, and where it records it.

    ``run_id`` is the ScheduleRun whose delivery ledger records the users
    delivered; ``shard_index`` of ``shard_count`` limits ``list_users`` and
    ``query_all`` to that shard's users; ``resumed`` says an earlier attempt
    of the slot may have delivered some (``list_users`` then skips them);
    ``batch_size`` is how many delivered users a worker reports at once. The
    kernel signs all but ``batch_size`` into the call token: the gateway
    trusts those claims, never a worker's word.
    """

    run_id: int
    shard_index: int = 0
    shard_count: int = 1
    resumed: bool = False
    batch_size: int = 200

    def as_dict(self):
        return {
            "run_id": self.run_id,
            "shard_index": self.shard_index,
            "shard_count": self.shard_count,
            "resumed": self.resumed,
            "batch_size": self.batch_size,
        }

    @classmethod
    def of(cls, value):
        """Return the FanOutScope of ``as_dict()``'s value, or None for None;
        raise ValueError for anything else."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError(f"fan-out scope must be an object, got {value!r:.60}")
        numbers = [value.get(k) for k in ("run_id", "shard_index", "shard_count")]
        size = value.get("batch_size", 200)
        if not all(_is_int(n) for n in (*numbers, size)) or not isinstance(
            value.get("resumed", False), bool
        ):
            raise ValueError(f"malformed fan-out scope {value!r:.120}")
        run_id, index, count = numbers
        if not (0 <= index < count and size > 0):
            raise ValueError(f"fan-out scope out of range: {value!r:.120}")
        return cls(run_id, index, count, value.get("resumed", False), size)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Invocation:
    """One call of an extension's handler: frozen, JSON-ready, process-neutral.

    ``timeout`` is in seconds; ``tool_type`` is the ctx's ``_tool_type``
    (imperal-sdk's "tool", "panel", "chat_fn", "skeleton", …). ``fan_out`` is
    set for a schedule's fire (its ledger and shard); ``progress`` says the
    kernel forwards this call's ``ctx.progress`` reports somewhere.
    """

    app_id: str
    kind: str
    name: str
    identity: Identity
    kwargs: dict = field(default_factory=dict)
    timeout: float = 60.0
    label: str = ""
    tool_type: str = "tool"
    # The extension's resolved ctx.config (IMPERAL_EXTENSION_CONFIG over its defaults).
    config: dict = field(default_factory=dict)
    # The platform's base URL of webhooks, for ctx.webhook_url in a worker.
    webhook_base: str = ""
    call_id: str = field(default_factory=lambda: secrets.token_hex(16))
    fan_out: FanOutScope = None
    progress: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"invocation kind must be one of {KINDS}, got {self.kind!r}"
            )

    def to_request(self, call_token="", now_ns=None):
        """Return the RpcRequest carrying this invocation (and its call token)."""
        now_ns = time.time_ns() if now_ns is None else now_ns
        who = self.identity
        return RpcRequest(
            corr_id=self.call_id,
            user_id=who.user_id,
            tenant_id=who.tenant_id,
            agency_id=who.agency_id,
            email=who.email,
            role=who.role,
            scopes=list(who.scopes),
            attributes={
                **who.attributes,
                INVOCATION_KEY: {
                    "kind": self.kind,
                    "tool_type": self.tool_type,
                    "label": self.label,
                    "timeout": self.timeout,
                    "config": self.config,
                    "webhook_base": self.webhook_base,
                    "call_token": call_token,
                    "fan_out": self.fan_out.as_dict() if self.fan_out else None,
                    "progress": self.progress,
                },
            },
            app_id=self.app_id,
            function=self.name,
            params=self.kwargs,
            reply_list=REPLY_LIST_PREFIX + self.call_id,
            deadline_ns=now_ns + int(self.timeout * 1e9),
            submitted_at_ns=now_ns,
        )


def invocation_of(request):
    """Return (Invocation, call token) of an RpcRequest built by Invocation.to_request."""
    attributes = dict(request.attributes)
    extra = attributes.pop(INVOCATION_KEY, None) or {}
    identity = Identity(
        user_id=request.user_id,
        tenant_id=request.tenant_id,
        email=request.email,
        role=request.role,
        agency_id=request.agency_id,
        scopes=tuple(request.scopes),
        attributes=attributes,
    )
    invocation = Invocation(
        app_id=request.app_id,
        kind=extra.get("kind", "tool"),
        name=request.function,
        identity=identity,
        kwargs=dict(request.params),
        timeout=float(extra.get("timeout", 60.0)),
        label=extra.get("label", ""),
        tool_type=extra.get("tool_type", "tool"),
        config=dict(extra.get("config") or {}),
        webhook_base=str(extra.get("webhook_base") or ""),
        call_id=request.corr_id,
        fan_out=FanOutScope.of(extra.get("fan_out")),
        progress=bool(extra.get("progress", False)),
    )
    return invocation, extra.get("call_token", "")


@dataclass(frozen=True)
class OutcomeError:
    """Why a call failed: an imperal-sdk RpcErrorCategory value and a message."""

    category: str
    message: str
    error_type: str = ""


@dataclass(frozen=True)
class Outcome:
    """How one invocation ended: ``status`` SUCCESS, FAILED or TIMEOUT."""

    status: str
    result: object = None
    error: OutcomeError = None
    duration_ms: float = 0.0
    fanned_out: int = 0
    # The users a system or webhook invocation acted for (ctx.as_user, for_user).
    users: tuple = ()

    @property
    def ok(self):
        return self.status == SUCCESS

    def to_reply(self, call_id, worker_id, started_at_ns, finished_at_ns=None):
        """Return the RpcReply carrying this outcome."""
        finished_at_ns = time.time_ns() if finished_at_ns is None else finished_at_ns
        if self.ok:
            return RpcReply(
                corr_id=call_id,
                status=RpcStatus.SUCCESS,
                result={
                    "value": self.result,
                    "fanned_out": self.fanned_out,
                    "users": list(self.users),
                },
                worker_id=worker_id,
                started_at_ns=started_at_ns,
                finished_at_ns=finished_at_ns,
            )
        category = self.error.category if self.error else RpcErrorCategory.APPLICATION
        message = self.error.message if self.error else "failed"
        if self.error and self.error.error_type:
            message = f"{self.error.error_type}: {message}"
        return build_error_reply(
            corr_id=call_id,
            category=RpcErrorCategory(category),
            message=message,
            retryable=category != RpcErrorCategory.APPLICATION,
            worker_id=worker_id,
            started_at_ns=started_at_ns,
            finished_at_ns=finished_at_ns,
        )


def outcome_of(reply):
    """Return the Outcome an RpcReply carries."""
    duration_ms = max(0, reply.finished_at_ns - reply.started_at_ns) / 1e6
    if reply.status == RpcStatus.SUCCESS:
        result = reply.result or {}
        return Outcome(
            SUCCESS,
            result.get("value"),
            duration_ms=duration_ms,
            fanned_out=int(result.get("fanned_out") or 0),
            users=tuple(result.get("users") or ()),
        )
    category = reply.error.category
    status = TIMEOUT if category == RpcErrorCategory.TIMEOUT else FAILED
    return Outcome(
        status,
        error=OutcomeError(str(category), reply.error.message),
        duration_ms=duration_ms,
    )


def error_reply(request, category, message, worker_id="platform"):
    """Return an error RpcReply answering ``request`` (the platform's, not a handler's)."""
    return build_error_reply(
        corr_id=request.corr_id,
        category=RpcErrorCategory(category),
        message=message,
        retryable=False,
        worker_id=worker_id,
        started_at_ns=request.submitted_at_ns,
    )
