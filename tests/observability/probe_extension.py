"""The observability tests' own extension: store work, cache reads, a failing tool,
a panel and a schedule, each touching a known number of surfaces."""

from imperal_sdk import Extension
from pydantic import BaseModel

ext = Extension(
    "obs-probe",
    version="1.0.0",
    display_name="Observability probe",
    description="Used by tests/observability to count what one call does.",
)


class Note(BaseModel):
    text: str


ext.cache_model("note")(Note)


@ext.tool("work", description="Create one note and read it back (2 store operations).")
async def work(ctx, text: str) -> dict:
    doc = await ctx.store.create("notes", {"text": text})
    again = await ctx.store.get("notes", doc.id)
    return {"id": again.id}


@ext.tool(
    "cached", description="Read `key` (a miss the first time), cache it, read it."
)
async def cached(ctx, key: str) -> dict:
    before = await ctx.cache.get(key, Note)
    await ctx.cache.set(key, Note(text=key), ttl_seconds=60)
    after = await ctx.cache.get(key, Note)
    return {"was_cached": before is not None, "now_cached": after is not None}


@ext.tool(
    "boom", description="Raise, with a secret and the caller's text in the message."
)
async def boom(ctx, text: str = "") -> dict:
    raise ValueError(f"password=hunter2 could not handle {text}")


@ext.panel("summary", slot="center", title="Summary")
async def summary(ctx) -> dict:
    return {"notes": await ctx.store.count("notes")}


@ext.schedule("sweep", cron="0 3 * * *")
async def sweep(ctx) -> dict:
    return {"swept": True}
