"""Who a gateway request is, and the one partition it may act in.

A credential gives a :class:`GatewayIdentity`: a tenant, an extension and,
for a user-bound token or a call token, one user. :func:`acting_partition`
compares it with every name the request carries (path, headers, body or
query) and returns the partition, or refuses: a mismatch is a 403, recorded
as a SecurityEvent and counted (imperal_store_threat_total).
"""

from dataclasses import dataclass

from apps.accounts.ids import check_user_id
from apps.accounts.partition import Partition
from apps.accounts.security import PRIVILEGED_IDS, record_threat, require_system
from apps.common.errors import CodedError
from apps.store.shards import Shard

from . import wire
from .models import EXTENSION_WIDE

EXTENSION_WIDE_LABEL = "*"  # the SecurityEvent user of an extension-wide token
FAN_OUT_USERS_RULE = (
    "users must be ordinary user ids: privileged identities "
    f"({', '.join(map(repr, sorted(PRIVILEGED_IDS)))}) cannot be fanned out to"
)


class GatewayForbidden(CodedError, PermissionError):
    """The request names another extension, tenant or user than its credential allows."""

    code = "forbidden"


@dataclass(frozen=True)
class GatewayIdentity:
    """What a verified credential allows: fixed when the request is authenticated.

    ``user_id`` is EXTENSION_WIDE ("") for an extension-wide service token.
    ``credential`` names the credential for events and messages (a token's
    display prefix, never the token). A call token the kernel minted names
    its invocation (``call_id``) and, for a schedule's fire, the FanOutScope
    (``fan_out``: ledger run, shard) its fan-out reads are limited to; it also
    carries its id (``jti``) and expiry (Unix seconds): what binds state held
    for one invocation, a worker's ctx.db session, to it.
    """

    kind: str
    tenant_id: str
    app_id: str
    user_id: str
    credential: str
    call_id: str = ""
    fan_out: object = None
    token_id: str = ""
    expires_at: int = 0

    is_authenticated = True
    is_anonymous = False

    @property
    def is_extension_wide(self):
        return self.user_id == EXTENSION_WIDE

    def own_partition(self):
        """Return the partition events are recorded under (``*`` when extension-wide)."""
        return Partition(
            self.tenant_id, self.app_id, self.user_id or EXTENSION_WIDE_LABEL
        )


@dataclass(frozen=True)
class Claims:
    """The names one request carries: path, headers, then body or query fields."""

    extensions: tuple
    tenants: tuple
    users: tuple


def claims_of(request, params, path_app=None, path_user=None):
    """Return the Claims of ``request``; ``params`` is its body dict or query params.

    Raises ValueError when a named field is not a string.
    """
    meta = request.META
    return Claims(
        extensions=_named(
            ("path app", path_app),
            ("X-Extension-ID", meta.get("HTTP_X_EXTENSION_ID")),
            ("X-Ext-Id", meta.get("HTTP_X_EXT_ID")),
            ("extension_id", params.get("extension_id")),
        ),
        tenants=_named(
            ("X-Tenant-ID", meta.get("HTTP_X_TENANT_ID")),
            ("tenant_id", params.get("tenant_id")),
        ),
        users=_named(
            ("X-Acting-User", meta.get("HTTP_X_ACTING_USER")),
            ("user_id", params.get("user_id")),
            ("path user", path_user),
        ),
    )


def _named(*sources):
    named = []
    for source, value in sources:
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(
                f"gateway: {source} must be a string, got {type(value).__name__}"
            )
        named.append((source, value))
    return tuple(named)


def acting_partition(request, params, path_app=None, path_user=None):
    """Return the Partition ``request`` acts in: (token's tenant, token's app, user).

    An extension-wide identity acts for the user the request names
    (X-Acting-User, else ``user_id``, else the path's user), never for a
    privileged identity (PRIVILEGED_IDS); a bound identity only for its own
    user. Raises GatewayForbidden (recorded and counted) on any mismatch or
    privileged name, ValueError when no user or a malformed one is named.
    """
    identity = request.user
    claims = claims_of(request, params, path_app, path_user)
    _refuse_others(identity, claims.extensions, identity.app_id, "extension")
    _refuse_others(identity, claims.tenants, identity.tenant_id, "tenant")
    if _is_kernel_fan_out(identity, claims):
        return _scoped_partition(identity, claims.users)
    if not identity.is_extension_wide:
        _refuse_others(identity, claims.users, identity.user_id, "user")
        return Partition(identity.tenant_id, identity.app_id, identity.user_id)
    if not claims.users:
        raise ValueError(
            "gateway: an extension-wide service token acts for the user named by "
            "the X-Acting-User header or the user_id field; this request names none"
        )
    source, first = claims.users[0]
    _refuse_others(identity, claims.users, first, "user")
    return _acting_for(identity, source, first)


def _is_kernel_fan_out(identity, claims):
    """Whether a system or webhook invocation's call token names a user to act for.

    The kernel mints such a token for one schedule, webhook or system hook run
    in an isolated worker; like that run's ``ctx.as_user``, it may act for any
    user of its own extension and tenant (never for another privileged id).
    """
    return (
        identity.kind == "call_token"
        and identity.user_id in PRIVILEGED_IDS
        and any(value != identity.user_id for _, value in claims.users)
    )


def _scoped_partition(identity, users):
    source, first = next((s, v) for s, v in users if v != identity.user_id)
    _refuse_others(identity, users, first, "user")
    return _acting_for(identity, source, first)


def _acting_for(identity, source, user_id, privileged_rule=None):
    """Return the Partition of ``user_id`` (named by ``source``) for ``identity``.

    Raises GatewayForbidden (recorded) for a privileged id, its message stating
    ``privileged_rule`` (by default, the rule for extension-wide tokens);
    ValueError for a malformed id.
    """
    _refuse_privileged(identity, (source, user_id), privileged_rule)
    user_id = check_user_id(user_id, f"gateway: the acting user ({source})")
    return Partition(identity.tenant_id, identity.app_id, user_id)


def fan_out_partitions(request, params, route, most):
    """Return the Partition of each user ``params["users"]`` lists (1 to ``most``).

    Only the kernel's fan-out (a system or webhook invocation's call token)
    may act for several users; each id is checked as :func:`acting_partition`
    checks the user such a token names. Raises GatewayForbidden (recorded and
    counted) for any other credential, a mismatching name or a privileged id;
    ValueError for a malformed id or list. ``route`` names the request.
    """
    identity = request.user
    claims = claims_of(request, params)
    _refuse_others(identity, claims.extensions, identity.app_id, "extension")
    _refuse_others(identity, claims.tenants, identity.tenant_id, "tenant")
    _require_kernel_fan_out(identity, route)
    _refuse_others(identity, claims.users, identity.user_id, "user")
    user_ids = wire.user_list(params.get("users"), most)
    return [
        _acting_for(identity, f"users[{index}]", user_id, FAN_OUT_USERS_RULE)
        for index, user_id in enumerate(user_ids)
    ]


def _require_kernel_fan_out(identity, route):
    if identity.kind == "call_token" and identity.user_id in PRIVILEGED_IDS:
        return
    record_threat(
        "gateway_fan_out_read",
        identity.own_partition(),
        route=route,
        credential=identity.credential,
    )
    raise GatewayForbidden(
        f"gateway: {route} reads several users' data at once: only a system or "
        f"webhook invocation's call token may send it, not {identity.credential}"
    )


def _refuse_others(identity, named, allowed, what):
    for source, value in named:
        if value != allowed:
            record_threat(
                f"gateway_{what}_mismatch",
                identity.own_partition(),
                source=source,
                named=value,
                allowed=allowed,
                credential=identity.credential,
            )
            raise GatewayForbidden(
                f"gateway: {source} {value!r:.80} is not this credential's {what} "
                f"{allowed!r:.80} ({identity.credential}); a credential acts only "
                f"for its own {what}"
            )


def _refuse_privileged(identity, named, rule=None):
    """Refuse an extension-wide identity acting as the system or webhook context.

    Those identities reach every user's data (list_users, query_all, as_user);
    only a token bound to one of them may act as it. ``rule`` replaces that
    advice in the message where another rule refuses the id (a fan-out's users).
    """
    source, user_id = named
    if user_id not in PRIVILEGED_IDS:
        return
    record_threat(
        "gateway_privileged_user",
        identity.own_partition(),
        source=source,
        named=user_id,
        credential=identity.credential,
    )
    rule = rule or (
        f"an extension-wide token ({identity.credential}) never acts as one: use a "
        f"token bound to it (manage.py ext token {identity.app_id} --user {user_id})"
    )
    raise GatewayForbidden(
        f"gateway: {source} {user_id!r} is a privileged identity; {rule}"
    )


def require_system_identity(partition, operation, route):
    """Return None when ``partition`` is the system's; else record it and raise 403.

    ``operation`` is the store's name for it (``list_users``, ``query_all``).
    The rule is :func:`apps.accounts.security.require_system`'s; only its
    RuntimeError becomes the gateway's GatewayForbidden.
    """
    try:
        require_system(
            partition, route, f"{operation}_from_user_context", via="gateway"
        )
    except RuntimeError as exc:
        raise GatewayForbidden(str(exc)) from None


SHARD_HEADER = "X-Imperal-Shard"


def fan_out_shard(request):
    """Return the Shard a fan-out read of ``request`` is limited to (None: every
    user, as for an unsharded fire): the one its credential's fan-out scope names.

    A request may name its shard (the SHARD_HEADER header or the ``shard``
    query parameter, ``"index/count"`` counted from 1 as the admin shows
    it); naming any other (a worker widening its shard) raises
    GatewayForbidden, recorded and counted.
    """
    identity = request.user
    scope = identity.fan_out
    sharded = scope is not None and scope.shard_count > 1
    own = Shard(scope.shard_index, scope.shard_count) if sharded else None
    allowed = str(own or Shard(0, 1))
    named = _named(
        (SHARD_HEADER, request.META.get("HTTP_X_IMPERAL_SHARD")),
        ("shard", request.query_params.get("shard")),
    )
    for source, value in named:
        if value != allowed:
            record_threat(
                "gateway_shard_mismatch",
                identity.own_partition(),
                source=source,
                named=value,
                allowed=allowed,
                credential=identity.credential,
            )
            raise GatewayForbidden(
                f"gateway: {source} {value!r:.40} is not this credential's shard "
                f"{allowed} ({identity.credential}); a fire's shard is fixed by the "
                "kernel when it mints the call token"
            )
    return own
