"""An extension that walks everything its ctx reaches, from each kind of handler.

Each handler runs tests.security.reachability's walk from its own ``ctx`` and
keeps the report in REPORTS under its kind (a skeleton section's answer is
capped at 64 KB; the reports are bigger). RECIPES are the calls the walk makes
on methods that need arguments: real data, seeded by the ``seed`` tool.
"""

import asyncio

from imperal_sdk import Extension
from pydantic import BaseModel

from tests.security.reachability import Call, Walk

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


STORE = "apps.store.face.StoreFace"
HTTP = "apps.egress.face.EgressHTTPClient"
# The walk reaches no upstream: each call is refused by the egress guard before
# any connection (loopback is not public), and the refusal is walked.
REFUSED_URL = "http://127.0.0.1:9/walk"
RECIPES = {
    # ctx.http
    **{f"{HTTP}.{method}": calls((REFUSED_URL,)) for method in ("get", "delete")},
    **{
        f"{HTTP}.{method}": calls(Call((REFUSED_URL,), {"json": {"walk": True}}))
        for method in ("post", "put", "patch")
    },
    # ctx
    "apps.extensions.context.PlatformContext.as_user": calls(("bob",)),
    "apps.extensions.context.PlatformContext.background_task": lambda: calls(
        (_never_run(),)
    ),
    "apps.extensions.context.PlatformContext.deliver_chat_message": calls(("hi",)),
    "apps.extensions.context.PlatformContext.oauth_authorize_url": calls(("google",)),
    "apps.extensions.context.PlatformContext.webhook_url": calls(("/walk",)),
    "imperal_sdk.context.Context.log": calls(("walking",)),
    "apps.extensions.context.PlatformContext.progress": calls((50, "walking")),
    # ctx.user, ctx.config, ctx.skeleton
    "imperal_sdk.types.identity.UserContext.has_scope": calls(("walk.read",)),
    "imperal_sdk.types.identity.UserContext.has_role": calls(("user",)),
    "imperal_sdk.config.client.ConfigClient.get": calls(
        ("greeting",), ("limits.max_items",)
    ),
    "imperal_sdk.config.client.ConfigClient.get_section": calls(("limits",)),
    "imperal_sdk.context._SkeletonAccessGuard.get": calls(("facts",)),
    # ctx.store and its documents
    f"{STORE}.create": calls(
        (COLLECTION, {"title": "made by the walk"}),
        (COLLECTION, {"doc_id": "seed"}),  # DocumentExists
    ),
    f"{STORE}.get": calls(
        (COLLECTION, "seed"),
        (f"{COLLECTION}/seed",),
        ("no/such collection", "seed"),  # ValueError
    ),
    f"{STORE}.query": calls(
        (COLLECTION,), Call((COLLECTION,), {"where": {"title": "seed"}, "limit": 2})
    ),
    f"{STORE}.update": calls(
        (COLLECTION, "seed", {"walked": True}),
        Call((COLLECTION, "seed", {"walked": 2}), {"if_match": "stale"}),  # conflict
        (COLLECTION, "missing", {"walked": True}),  # DocumentNotFound
    ),
    f"{STORE}.delete": calls((COLLECTION, "doomed")),
    f"{STORE}.count": calls((COLLECTION,)),
    f"{STORE}.set": calls((f"{COLLECTION}/set-by-walk", {"walked": True})),
    f"{STORE}.list": calls((COLLECTION,)),
    f"{STORE}.list_users": calls((COLLECTION,)),
    f"{STORE}.query_all": calls((COLLECTION,)),
    f"{STORE}.for_user": calls(("bob",)),
    "imperal_sdk.types.models.Document.get": calls(("title",)),
    # ctx.cache
    "apps.cache.face.CacheFace.get": calls(("note", WalkNote), ("note", dict)),
    "apps.cache.face.CacheFace.set": calls(
        ("note", WalkNote(text="walked")),
        ("huge", WalkNote(text="x" * 70_000)),  # ValueTooLarge
    ),
    "apps.cache.face.CacheFace.delete": calls(("gone",)),
    "apps.cache.face.CacheFace.get_or_fetch": calls(("fetched", WalkNote, fetch_note)),
    # ctx.db
    "apps.db.face.DbConnection.execute": calls(
        ("SELECT id, body FROM walk_notes ORDER BY id",),
        Call(("SELECT :n AS n",), {"params": {"n": 7}}),
        ("SELECT :missing AS n",),
        ("SELECT * FROM no_such_table",),
    ),
    # ctx.notify
    "apps.notifications.face.NotifyFace.__call__": calls(
        ("walked",),
        Call(("walked",), {"user_id": "charlie"}),  # NotifyForbidden
    ),
    "apps.notifications.face.NotifyFace.send": calls(("walked",)),
    "apps.notifications.face.NotifyFace.for_user": calls(("bob",)),
    # ctx.secrets
    "apps.secrets.face.SecretsFace.set": calls(("walk_token", "walked-value")),
    "apps.secrets.face.SecretsFace.get": calls(("walk_token",), ("undeclared",)),
    "apps.secrets.face.SecretsFace.is_set": calls(("walk_token",)),
    "apps.secrets.face.SecretsFace.delete": calls(("walk_doomed",)),
    "apps.secrets.face.SecretsFace.for_user": calls(("bob",)),
    # ctx.storage (a path trick is refused and walked)
    "apps.files.face.StorageFace.upload": calls(
        ("walk/a.txt", b"walked", "text/plain"), ("../escape.txt", b"x")
    ),
    "apps.files.face.StorageFace.download": calls(("walk/a.txt",), ("missing.txt",)),
    "apps.files.face.StorageFace.delete": calls(("walk/a.txt",)),
    "apps.files.face.StorageFace.list": calls((), ("walk/",)),
    # ctx.ai (tests.security.test_reachability serves it from a fake provider)
    "apps.ai.face.AIFace.complete": calls(("walk prompt",), ("",)),
    "apps.extensions.context.RecipientlessNotify.__call__": calls(("walked",)),
    "apps.extensions.context.RecipientlessNotify.send": calls(("walked",)),
    "apps.extensions.context.RecipientlessNotify.for_user": calls(("bob",)),
}
NOT_CALLED = {
    "builtins.BaseException.with_traceback": "gives back the exception itself",
    "builtins.BaseException.add_note": "adds a string to the exception itself",
}


async def walk(ctx, kind):
    """Walk from ``ctx``; keep the report as REPORTS[kind] and return its counts."""
    report = await Walk(
        own_modules=(__name__,), recipes=RECIPES, not_called=NOT_CALLED
    ).run(ctx)
    REPORTS[kind] = report
    return {key: len(value) for key, value in report.items() if key != "objects"}


@ext.tool("seed", description="Store what the walk reads: documents, a row, a note.")
async def seed(ctx) -> dict:
    for doc_id in ("seed", "doomed"):
        await ctx.store.set(f"{COLLECTION}/{doc_id}", {"title": doc_id})
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
