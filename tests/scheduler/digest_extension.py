"""A test extension whose digest fans out over every subscriber, as the seed's does."""

import asyncio

from imperal_sdk import Extension

ext = Extension("digest", description="Digest extension of the shard tests.")


@ext.schedule("daily", cron="0 8 * * *")
async def daily(ctx) -> dict:
    """Notify each subscriber once. Config ``explode_after``: raise after that
    many users; the system document ``settings/pace`` (``{"pause": s}``): sleep
    that long after each user (a worker process reads it too)."""
    done, pace = 0, await ctx.store.get("settings/pace")
    pause = float(pace.data["pause"]) if pace else 0.0
    async for user_ctx in ctx.store.list_users("subscriptions"):
        page = await user_ctx.store.query("subscriptions")
        await user_ctx.notify(f"digest of {len(page.data)}")
        done += 1
        if done == ctx.config.get("explode_after"):
            raise RuntimeError(f"exploded after {done} users, on purpose")
        await asyncio.sleep(pause)
    return {"users": done}


@ext.schedule("sdk_loop", cron="30 8 * * *")
async def sdk_loop(ctx) -> dict:
    """imperal-sdk's loop: ids from list_users, contexts from as_user."""
    done = 0
    async for uid in ctx.store.list_users("subscriptions"):
        await ctx.as_user(uid).notify("sdk digest")
        done += 1
    return {"users": done}


@ext.schedule("tally", cron="0 10 * * *")
async def tally(ctx) -> dict:
    """Return how many subscriptions the loop reads for each subscriber; each
    iteration then adds one to those of the subscriber config ``add_to`` names
    (so what that subscriber's query answers changes while the loop runs)."""
    counts = {}
    async for user_ctx in ctx.store.list_users("subscriptions"):
        page = await user_ctx.store.query("subscriptions", limit=100)
        counts[str(user_ctx)] = len(page.data)
        if ctx.config.get("add_to"):
            target = ctx.as_user(ctx.config.get("add_to"))
            await target.store.create("subscriptions", {"from": str(user_ctx)})
    return counts


@ext.schedule("everyone", cron="0 9 * * *")
async def everyone(ctx) -> dict:
    """query_all: in a shard, only that shard's users' documents."""
    docs = await ctx.store.query_all("subscriptions", limit=10_000)
    return {"users": sorted({doc.user_id for doc in docs})}
