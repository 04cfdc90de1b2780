"""The extension bench/runner measures: one ctx.store.get, and the seed's digest."""

import time

from imperal_sdk import Extension

ext = Extension("runner-bench", version="1.0.0", description="bench/runner's extension")


@ext.tool("get_one", description="Read one document; say how long the read took.")
async def get_one(ctx, doc_id: str) -> dict:
    started = time.perf_counter()
    doc = await ctx.store.get("items", doc_id)
    read_ms = (time.perf_counter() - started) * 1000
    return {"found": doc is not None, "read_ms": read_ms}


@ext.schedule("digest", cron="0 7 * * *")
async def digest(ctx):
    sent = 0
    async for user_ctx in ctx.store.list_users("contacts"):
        page = await user_ctx.store.query("contacts", limit=10)
        await user_ctx.notify(f"{len(page.data)} contacts")
        sent += 1
    return {"sent": sent}
