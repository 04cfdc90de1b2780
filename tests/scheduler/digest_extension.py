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


@ext.schedule("everyone", cron="0 9 * * *")
async def everyone(ctx) -> dict:
    """query_all: in a shard, only that shard's users' documents."""
    docs = await ctx.store.query_all("subscriptions", limit=10_000)
    return {"users": sorted({doc.user_id for doc in docs})}
