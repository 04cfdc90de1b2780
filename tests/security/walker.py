"""An extension that walks everything its ctx reaches, from each kind of handler.

Each handler runs tests.security.reachability's walk from its own ``ctx`` and
keeps the report in REPORTS under its kind (a skeleton section's answer is
capped at 64 KB; the reports are bigger). RECIPES are the calls the walk makes
on methods that need arguments: real data, seeded by the ``seed`` tool.

It runs in-process or isolated unchanged. In a worker it imports only what a
worker can (imperal-sdk, the worker package, this module and the walk), walks
against the worker's allow-list, and also writes each report to
``$HOME/walk-reports/<kind>.json``, where the test reads it.
"""

import asyncio
import gc
import json
import os
from pathlib import Path

from imperal_sdk import Extension
from pydantic import BaseModel

from apps.runtime.worker.context import NotServedInWorker, WorkerContext
from apps.runtime.worker.reachable import WORKER
from tests.security.reachability import Call, Walk

try:
    from apps.extensions.reachable import KERNEL
except ImportError:  # in an isolated worker: the kernel is not there to import
    KERNEL = None

ext = Extension(
    "walker",
    description="Walks what its ctx reaches.",
    config_defaults={"greeting": "hi", "limits": {"max_items": 3}},
)
for _secret in ("walk_token", "walk_doomed"):
    ext.secret(_secret, "A token the walk reads and writes.", write_mode="both")(
        lambda: None
    )
COLLECTION = "walk"
TABLE = "CREATE TABLE IF NOT EXISTS walk_notes (id INTEGER PRIMARY KEY, body TEXT)"
REPORTS = {}


@ext.cache_model("walk_note")
class WalkNote(BaseModel):
    text: str


async def fetch_note():
    return WalkNote(text="fetched")


async def _never_run():
    return None


def calls(*items):
    return [item if isinstance(item, Call) else Call(item) for item in items]


# The walk reaches no upstream: each call is refused by the egress guard before
# any connection (loopback is not public), and the refusal is walked.
REFUSED_URL = "http://127.0.0.1:9/walk"
HTTP_CALLS = {
    **{method: calls((REFUSED_URL,)) for method in ("get", "delete")},
    **{
        method: calls(Call((REFUSED_URL,), {"json": {"walk": True}}))
        for method in ("post", "put", "patch")
    },
    "request": calls(("GET", REFUSED_URL)),
}
STORE_CALLS = {
    "create": calls(
        (COLLECTION, {"title": "made by the walk"}),
        (COLLECTION, {"doc_id": "seed"}),  # DocumentExists
    ),
    "get": calls(
        (COLLECTION, "seed"),
        (f"{COLLECTION}/seed",),
        ("no/such collection", "seed"),  # ValueError
    ),
    "query": calls(
        (COLLECTION,), Call((COLLECTION,), {"where": {"title": "seed"}, "limit": 2})
    ),
    "update": calls(
        (COLLECTION, "seed", {"walked": True}),
        Call((COLLECTION, "seed", {"walked": 2}), {"if_match": "stale"}),  # conflict
        (COLLECTION, "missing", {"walked": True}),  # DocumentNotFound
    ),
    "delete": calls((COLLECTION, "doomed")),
    "count": calls((COLLECTION,)),
    "set": calls((f"{COLLECTION}/set-by-walk", {"walked": True})),
    "list": calls((COLLECTION,)),
    "list_users": calls((COLLECTION,)),
    "query_all": calls((COLLECTION,)),
    "for_user": calls(("bob",)),
}
CACHE_CALLS = {
    "get": calls(("note", WalkNote), ("note", dict)),
    "set": calls(
        ("note", WalkNote(text="walked")),
        ("huge", WalkNote(text="x" * 70_000)),  # ValueTooLarge
    ),
    "delete": calls(("gone",)),
    "get_or_fetch": calls(("fetched", WalkNote, fetch_note)),
}
NOTIFY_CALLS = {
    "__call__": calls(
        ("walked",),
        Call(("walked",), {"user_id": "charlie"}),  # NotifyForbidden
    ),
    "send": calls(("walked",)),
    "for_user": calls(("bob",)),
}
SECRETS_CALLS = {
    "set": calls(("walk_token", "walked-value")),
    "get": calls(("walk_token",), ("undeclared",)),
    "is_set": calls(("walk_token",)),
    "delete": calls(("walk_doomed",)),
    "for_user": calls(("bob",)),
}
CONTEXT_CALLS = {
    "as_user": calls(("bob",)),
    "background_task": lambda: calls((_never_run(),)),
    "deliver_chat_message": calls(("hi",)),
    "oauth_authorize_url": calls(("google",)),
    "webhook_url": calls(("/walk",)),
    "progress": calls((50, "walking")),
}
# Each surface's class in-process and its classes in a worker (a worker's
# subclass defines some methods, imperal-sdk's client the rest).
SURFACES = {
    "http": (
        HTTP_CALLS,
        "apps.egress.face.EgressHTTPClient",
        "apps.runtime.worker.http.GatewayHTTPClient",
    ),
    "store": (
        STORE_CALLS,
        "apps.store.face.StoreFace",
        "imperal_sdk.store.client.StoreClient",
        "apps.runtime.worker.context.CallTokenStoreClient",
    ),
    "cache": (
        CACHE_CALLS,
        "apps.cache.face.CacheFace",
        "imperal_sdk.cache.client.CacheClient",
    ),
    "notify": (
        NOTIFY_CALLS,
        "apps.notifications.face.NotifyFace",
        "apps.extensions.context.RecipientlessNotify",
        "imperal_sdk.notify.client.NotifyClient",
        "apps.runtime.worker.clients.CallTokenNotifyClient",
        "apps.runtime.worker.fanout.LedgerNotifyClient",
    ),
    "secrets": (
        SECRETS_CALLS,
        "apps.secrets.face.SecretsFace",
        "imperal_sdk.secrets.client.SecretClient",
        "apps.runtime.worker.clients.CallTokenSecretClient",
    ),
    "ctx": (
        CONTEXT_CALLS,
        "apps.extensions.context.PlatformContext",
        "imperal_sdk.context.Context",
        "apps.runtime.worker.context.WorkerContext",
    ),
}
RECIPES = {
    f"{cls}.{method}": recipe
    for table, *classes in SURFACES.values()
    for cls in classes
    for method, recipe in table.items()
}
RECIPES.update(
    {
        "imperal_sdk.context.Context.log": calls(("walking",)),
        # ctx.user, ctx.config, ctx.skeleton, documents
        "imperal_sdk.types.identity.UserContext.has_scope": calls(("walk.read",)),
        "imperal_sdk.types.identity.UserContext.has_role": calls(("user",)),
        "imperal_sdk.config.client.ConfigClient.get": calls(
            ("greeting",), ("limits.max_items",)
        ),
        "imperal_sdk.config.client.ConfigClient.get_section": calls(("limits",)),
        "imperal_sdk.context._SkeletonAccessGuard.get": calls(("facts",)),
        "imperal_sdk.types.models.Document.get": calls(("title",)),
        # ctx.db, in-process and in a worker
        **{
            f"{cls}.execute": calls(
                ("SELECT id, body FROM walk_notes ORDER BY id",),
                Call(("SELECT :n AS n",), {"params": {"n": 7}}),
                ("SELECT :missing AS n",),
                ("SELECT * FROM no_such_table",),
            )
            for cls in (
                "apps.db.face.DbConnection",
                "apps.runtime.worker.db.DbConnection",
            )
        },
        # ctx.storage (a path trick is refused and walked)
        "apps.files.face.StorageFace.upload": calls(
            ("walk/a.txt", b"walked", "text/plain"), ("../escape.txt", b"x")
        ),
        "apps.files.face.StorageFace.download": calls(
            ("walk/a.txt",), ("missing.txt",)
        ),
        "apps.files.face.StorageFace.delete": calls(("walk/a.txt",)),
        "apps.files.face.StorageFace.list": calls((), ("walk/",)),
        # ctx.ai (tests.security.test_reachability serves it from a fake provider)
        "apps.ai.face.AIFace.complete": calls(("walk prompt",), ("",)),
    }
)
NOT_CALLED = {
    "builtins.BaseException.with_traceback": "gives back the exception itself",
    "builtins.BaseException.add_note": "adds a string to the exception itself",
}


REPORT_DIR = "walk-reports"


async def walk(ctx, kind):
    """Walk from ``ctx``; keep the report as REPORTS[kind] and return its counts."""
    isolated = isinstance(ctx, WorkerContext)
    report = await Walk(
        allowed=WORKER if isolated else KERNEL,
        own_modules=(__name__,),
        recipes=RECIPES,
        not_called=NOT_CALLED,
    ).run(ctx)
    REPORTS[kind] = report
    if isolated:
        reports = Path(os.environ["HOME"]) / REPORT_DIR
        reports.mkdir(exist_ok=True)
        (reports / f"{kind}.json").write_text(json.dumps(report))
    return {key: len(value) for key, value in report.items() if key != "objects"}


@ext.tool("seed", description="Store what the walk reads: documents, a row, a note.")
async def seed(ctx) -> dict:
    for doc_id in ("seed", "doomed"):
        await ctx.store.set(f"{COLLECTION}/{doc_id}", {"title": doc_id})
    if not isinstance(ctx.db, NotServedInWorker):
        async with ctx.db.session() as s:
            await s.execute(TABLE)
            await s.execute("DELETE FROM walk_notes")
            await s.execute("INSERT INTO walk_notes VALUES (1, 'kept')")
    await ctx.cache.set("note", WalkNote(text="seeded"))
    for name in ("walk_token", "walk_doomed"):
        await ctx.secrets.set(name, f"seeded {name}")
    return {"seeded": ctx.user.id}


@ext.on_install
async def walk_install(ctx):
    return await walk(ctx, "install")


@ext.tool("walk", description="Walk from a tool's ctx.")
async def walk_tool(ctx) -> dict:
    return await walk(ctx, "tool")


DISPATCH = "GatewayDispatch"  # apps.runtime.worker.gateway's


@ext.tool("walk_leaky", description="Walk with the worker's claim client on ctx.")
async def walk_leaky(ctx) -> dict:
    """A worker's runtime token is in its process (reached by gc, as any code in
    the process can): hung on ctx, the walk must name it. Isolated only."""
    dispatch = next(o for o in gc.get_objects() if type(o).__name__ == DISPATCH)
    ctx.leaked_dispatch = dispatch
    ctx.leaked_authorization = dispatch.client.headers["Authorization"]
    return await walk(ctx, "leaky")


@ext.panel("walk", title="Walk")
async def walk_panel(ctx) -> dict:
    return await walk(ctx, "panel")


@ext.schedule("walk", cron="0 0 1 1 *")
async def walk_schedule(ctx) -> dict:
    return await walk(ctx, "schedule")


@ext.webhook("walk", method="POST")
async def walk_webhook(ctx, headers, body, query_params):
    return await walk(ctx, "webhook")


@ext.skeleton("walk", ttl=60)
async def walk_skeleton(ctx) -> dict:
    return {"response": await walk(ctx, "skeleton")}


@ext.skeleton("facts", ttl=60)
async def facts(ctx) -> dict:
    await asyncio.sleep(0)
    return {"response": {"facts": 1}}
