"""The ctx a handler gets in a worker: imperal-sdk's Context and its own HTTP clients.

Every surface is reached through the platform's gateway with the call token the
kernel minted for this one invocation (its app, its user, its tool type, its
deadline); the worker holds no other credential. ``ctx.http`` is sent through
the gateway too (apps/runtime/worker/http.py), made by the egress guard as the
invocation's user, and so is ``ctx.db`` (apps/runtime/worker/db.py), run by
the platform as the extension. Surfaces the gateway does not serve to
workers fail loudly on use (:class:`NotServedInWorker`). What the kernel
lends a call while it runs — a fire's delivery ledger, the sink of
``ctx.progress`` — is reached through the call's :class:`CallLink`.
"""

import contextlib
import datetime
import logging
from dataclasses import replace

import httpx
from imperal_sdk._shared_http import shared_http
from imperal_sdk.cache.client import CacheClient  # noqa: F401  (built by Context)
from imperal_sdk.config.client import ConfigClient
from imperal_sdk.context import Context, TimeContext
from imperal_sdk.skeleton.client import SkeletonClient
from imperal_sdk.store.client import StoreClient
from imperal_sdk.types.identity import TenantContext, UserContext

from .clients import CallTokenSecretClient
from .db import WorkerDb
from .envelope import CALL_TOKEN_SCHEME, PRIVILEGED_IDS
from .errors import STORE_ERRORS, error_of
from .fanout import LedgerNotifyClient, NoLedger, WorkerLedger
from .http import GatewayHTTPClient
from .pages import query_page
from .progress import ProgressSender
from .readahead import ReadAhead, StoreQuery, UpcomingUsers

logger = logging.getLogger("imperal.worker")


class WorkerUser(UserContext):
    """imperal-sdk's UserContext plus ``.id`` (as the kernel's PlatformUserContext)."""

    @property
    def id(self):
        return self.imperal_id


class CallTokenStoreClient(StoreClient):
    """imperal-sdk's StoreClient, authenticated by the invocation's call token and
    naming its user (a system or webhook call's token acts for the users it
    addresses, as the kernel's ``as_user`` does).

    A refusal raises what ctx.store raises in-process (DocumentExists,
    DocumentNotFound, a ValueError naming the rule, QuotaExceeded, …:
    apps.runtime.worker.errors), not the SDK's httpx.HTTPStatusError. Inside
    a ``list_users`` loop a first-page query may be served by the call's
    ReadAhead (apps/runtime/worker/readahead.py); every write tells it.
    """

    owner = None  # the WorkerContext this store belongs to

    @contextlib.contextmanager
    def _writing(self):
        try:
            yield
        finally:
            self.owner._link.readahead.wrote(self._user_id)

    async def create(self, collection, data):
        """imperal-sdk's ``create``; raises as ctx.store in-process."""
        with self._writing():
            return await _translated(super().create(collection, data))

    async def get(self, collection, doc_id=None):
        """imperal-sdk's ``get``; raises as ctx.store in-process."""
        return await _translated(super().get(collection, doc_id))

    async def update(self, collection, doc_id, data, if_match=""):
        """imperal-sdk's ``update``; raises as ctx.store in-process."""
        with self._writing():
            return await _translated(super().update(collection, doc_id, data, if_match))

    async def delete(self, collection, doc_id):
        """imperal-sdk's ``delete``: return whether a document was deleted."""
        with self._writing():
            return await super().delete(collection, doc_id)

    async def count(self, collection, where=None):
        """imperal-sdk's ``count``; raises as ctx.store in-process."""
        return await _translated(super().count(collection, where))

    async def query_all(self, collection, *, limit=500):
        """imperal-sdk's ``query_all``; raises as ctx.store in-process."""
        return await _translated(super().query_all(collection, limit=limit))

    def _headers(self):
        return {
            "Authorization": f"{CALL_TOKEN_SCHEME} {self._auth_token}",
            "X-Extension-ID": self._extension_id,
            "X-Tenant-ID": self._tenant_id,
            "X-Acting-User": self._user_id,
        }

    async def query(
        self, collection, where=None, order_by=None, limit=100, cursor=None
    ):
        """imperal-sdk's ``query``, plus the platform's ``cursor`` (the seed's keyset
        pagination, which ctx.store offers in-process and the gateway's route takes)."""
        if cursor is None:
            return await self.owner._link.readahead.query(
                self._user_id,
                StoreQuery(collection, where, order_by, limit),
                lambda: _translated(
                    StoreClient.query(self, collection, where, order_by, limit)
                ),
            )
        body = {
            "where": where or {},
            "order_by": order_by,
            "limit": limit,
            "cursor": cursor,
            "extension_id": self._extension_id,
            "user_id": self._user_id,
            "tenant_id": self._tenant_id,
        }
        async with shared_http() as client:
            response = await client.post(
                f"{self._gateway_url}/v1/internal/store/{collection}/query",
                json=body,
                headers=self._headers(),
                timeout=30,
            )
        if response.status_code >= 400:
            raise error_of(response, "ctx.store", STORE_ERRORS)
        return query_page(collection, response.json(), etags=True)

    def for_user(self, user_id):
        """Return ``user_id``'s store (imperal-sdk's ``for_user``), counted as fan-out."""
        return self.owner.as_user(user_id).store

    async def list_users(self, collection, *, page_size=500):
        """Yield each user id, which is also that user's scoped ctx (ScopedUserId).

        A fire's ledger is told where each user's iteration starts and ends;
        the call's ReadAhead may read the next users' pages ahead meanwhile.
        """
        link = self.owner._link
        users = aiter(super().list_users(collection, page_size=page_size))
        with link.readahead.loop(UpcomingUsers(users)) as upcoming:
            while True:
                try:
                    user_id = await upcoming.next()
                except StopAsyncIteration:
                    break
                except httpx.HTTPStatusError as exc:
                    raise error_of(exc.response, "ctx.store", STORE_ERRORS) from None
                link.ledger.entered(user_id)
                yield ScopedUserId(user_id, self.owner)
                await link.ledger.finished(user_id)
        await link.ledger.exhausted()


async def _translated(call):
    """Return what the SDK's ``call`` returns; raise its HTTP error as in-process."""
    try:
        return await call
    except httpx.HTTPStatusError as exc:
        raise error_of(exc.response, "ctx.store", STORE_ERRORS) from None


class ScopedUserId(str):
    """A user id from ``list_users`` that is also its scoped context (the seed's
    ``async for user_ctx in ctx.store.list_users(c)`` loop), built on first use."""

    def __new__(cls, user_id, system_context):
        instance = super().__new__(cls, user_id)
        instance._system_context = system_context
        instance._scoped = None
        return instance

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_system_context", "_scoped"):
            raise AttributeError(name)
        if self._scoped is None:
            self._scoped = self._system_context.as_user(str(self))
        return getattr(self._scoped, name)


class NotServedInWorker:
    """A surface an isolated worker does not get (yet); every use raises RuntimeError.

    Falsy, as the kernel's UnservedSurface, so an extension's own ``if ctx.ai:``
    fallback works in a worker too.
    """

    def __init__(self, name, reason):
        self._name = name
        self._reason = reason

    def __getattr__(self, attr):
        if attr.startswith("_"):
            # Probes of private and special names (inspect, copy, pickle,
            # hasattr) get the usual answer.
            raise AttributeError(attr)
        raise self._refusal()

    def __call__(self, *args, **kwargs):
        raise self._refusal()

    def __bool__(self):
        return False

    def _refusal(self):
        return RuntimeError(
            f"ctx.{self._name} is not served to isolated extensions: {self._reason}"
        )

    def __repr__(self):
        return f"<ctx.{self._name} not served in an isolated worker>"


NOT_SERVED = {
    "ai": "this platform does not serve ctx.ai",
    "billing": "this platform does not serve ctx.billing",
    "storage": "this platform does not serve ctx.storage",
    "extensions": "this platform does not serve ctx.extensions",
    "users": "platform user records are Imperal Cloud's",
    "apps": "app settings, membership and moderation are Imperal Cloud's",
    "rbac": "roles and scopes are Imperal Cloud's (ctx.user.scopes holds the "
    "user's scopes here)",
    "conversations": "there are no conversation threads",
    "signals": "there are no reactive state signals",
    "deliver_chat_message()": "there is no chat; notify the user with ctx.notify",
    "background_task()": "there is no chat to deliver a background result into",
    "oauth_authorize_url()": "there is no unified OAuth flow (no route exchanges "
    "the provider's code)",
}


class CallLink:
    """What one call (and every context ``as_user`` scopes from it) shares with
    the kernel while it runs: a fire's ledger and the ``ctx.progress`` sender;
    and among its store clients, the read-ahead of its fan-out."""

    def __init__(self, invocation, call_token, gateway_url):
        scope = invocation.fan_out
        self.ledger = (
            WorkerLedger(gateway_url, call_token, scope.batch_size)
            if scope is not None
            else NoLedger()
        )
        self.progress = ProgressSender(gateway_url, call_token, invocation.progress)
        self.readahead = ReadAhead(
            gateway_url, call_token, invocation.app_id, invocation.identity.tenant_id
        )

    @contextlib.asynccontextmanager
    async def running(self):
        """Run the handler inside; then send the last progress report and report
        the fire's last deliveries. After a success a failed report raises (the
        call fails, as in-process); after a failure it is logged."""
        try:
            yield self
        except BaseException:
            await self.progress.flush()
            try:
                await self.ledger.close(False)
            except Exception as exc:  # the handler's own failure is what is reported
                logger.warning("the fire's last deliveries were not recorded: %s", exc)
            raise
        await self.progress.flush()
        await self.ledger.close(True)


def _not_served(name):
    return f"ctx.{name} is not served to isolated extensions: {NOT_SERVED[name]}"


class NotServedProperty:
    """A read-only ctx attribute whose value is NotServedInWorker(<its name>): the
    imperal-sdk Context's own property would build a client for Imperal Cloud."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, ctx, owner=None):
        if ctx is None:
            return self
        return NotServedInWorker(self.name, NOT_SERVED[self.name])


class WorkerContext(Context):
    """imperal-sdk's Context with the worker's unserved surfaces and ``ctx.db``
    (which imperal-sdk's Context does not have)."""

    db = None
    _scope = None  # (invocation, call token, gateway URL, config, fanned-out ids)
    _link = None  # the CallLink of the call

    async def progress(self, percent, message=""):
        """Send a progress report to the kernel's sink for this call; return None.

        Raises TypeError when ``percent`` is not a number.
        """
        await self._link.progress.report(percent, message)

    users = NotServedProperty()
    apps = NotServedProperty()
    rbac = NotServedProperty()
    conversations = NotServedProperty()
    signals = NotServedProperty()

    @property
    def extension_id(self):
        return self._extension_id

    def webhook_url(self, path):
        """Return this platform's public URL of the extension's webhook ``path``
        (the kernel's base, sent with the invocation; imperal-sdk's would name
        Imperal Cloud's host)."""
        base = self._scope[0].webhook_base.rstrip("/")
        if not base:
            raise RuntimeError(
                "ctx.webhook_url: the platform sent no webhook base URL with this call"
            )
        return f"{base}/v1/ext/{self._extension_id}/webhook/{(path or '').lstrip('/')}"

    async def deliver_chat_message(self, text, **kwargs):
        """Raise RuntimeError: there is no chat (as in-process)."""
        raise RuntimeError(_not_served("deliver_chat_message()"))

    async def background_task(self, coro, **kwargs):
        """Raise RuntimeError: there is no chat to deliver a result into."""
        coro.close()  # never awaited: no "coroutine was never awaited" warning
        raise RuntimeError(_not_served("background_task()"))

    async def oauth_authorize_url(self, provider, **kwargs):
        """Raise RuntimeError: there is no unified OAuth flow here (as in-process)."""
        raise RuntimeError(_not_served("oauth_authorize_url()"))

    def as_user(self, user_id):
        """Return ``user_id``'s context: same extension, tenant and call token.

        Raises RuntimeError outside a system or webhook context, ValueError for
        an empty or privileged ``user_id``.
        """
        if self.user.imperal_id not in PRIVILEGED_IDS:
            raise RuntimeError(
                f"ctx.as_user() requires system context (got {self.user.imperal_id!r})"
            )
        if not isinstance(user_id, str) or not user_id or user_id in PRIVILEGED_IDS:
            raise ValueError(
                f"target user_id must be non-empty, non-system: {user_id!r}"
            )
        invocation, call_token, gateway_url, config, users = self._scope
        attributes = {
            **invocation.identity.attributes,
            "scoped_from": self.user.imperal_id,
        }
        scoped = replace(
            invocation,
            identity=replace(
                invocation.identity, user_id=str(user_id), attributes=attributes
            ),
        )
        users.append(str(user_id))
        return build_worker_context(
            self._extension, scoped, call_token, gateway_url, config, users, self._link
        )


def build_worker_context(
    ext, invocation, call_token, gateway_url, config=None, users=None, link=None
):
    """Return the ctx for ``invocation`` of ``ext``, every client on ``gateway_url``.

    ``users`` collects the ids ``as_user`` scoped to, ``link`` is the call's
    CallLink (both shared by the scoped contexts; a new link by default).
    """
    link = link or CallLink(invocation, call_token, gateway_url)
    who = invocation.identity
    user = WorkerUser(
        imperal_id=who.user_id,
        email=who.email,
        tenant_id=who.tenant_id,
        agency_id=who.agency_id,
        role=who.role,
        scopes=list(who.scopes),
        attributes=dict(who.attributes),
    )
    app_id = invocation.app_id
    ctx = WorkerContext(
        user=user,
        tenant=TenantContext(tenant_id=who.tenant_id, name=who.tenant_id),
        store=CallTokenStoreClient(
            gateway_url,
            auth_token=call_token,
            extension_id=app_id,
            user_id=who.user_id,
            tenant_id=who.tenant_id,
        ),
        notify=LedgerNotifyClient(
            gateway_url, auth_token=call_token, user_id=who.user_id, extension_id=app_id
        ),
        skeleton=SkeletonClient(
            gateway_url, extension_id=app_id, user_id=who.user_id, call_token=call_token
        ),
        config=ConfigClient(config or {}),
        time=time_context(datetime.datetime.now(datetime.UTC)),
        agency_id=who.agency_id,
        _extension_id=app_id,
        _extension=ext,
        _tool_type=invocation.tool_type,
        _call_token=call_token,
        _gateway_url=gateway_url,
        **{
            name: NotServedInWorker(name, NOT_SERVED[name]) for name in _UNSERVED_FIELDS
        },
    )
    ctx._scope = (
        invocation,
        call_token,
        gateway_url,
        config,
        users if users is not None else [],
    )
    ctx._link = link
    ctx.store.owner = ctx
    ctx.notify.owner = ctx
    ctx.notify._ledger = link.ledger
    ctx.db = WorkerDb(gateway_url, call_token, app_id)
    ctx.http = GatewayHTTPClient(gateway_url, call_token, who.user_id)
    ctx.secrets = CallTokenSecretClient(
        ext_id=app_id,
        imperal_id=who.user_id,
        auth_gw_base=gateway_url,
        session_token=call_token,
        declared=dict(getattr(ext, "secrets", {}) or {}),
    )
    ctx.secrets.owner = ctx
    return ctx


_UNSERVED_FIELDS = ("ai", "billing", "storage", "extensions")


def time_context(now):
    """Return imperal-sdk's TimeContext of ``now`` (UTC): the kernel's too."""
    return TimeContext(
        timezone="UTC",
        utc_offset="+00:00",
        now_utc=now.isoformat(),
        now_local=now.isoformat(),
        hour_local=now.hour,
        is_business_hours=now.weekday() < 5 and 9 <= now.hour < 18,
    )
