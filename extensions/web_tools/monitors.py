"""Monitors: tools to manage them and the hourly runner that fans out over users."""

from app import ext


@ext.tool("add_monitor", description="Watch a URL; returns the monitor's id.")
async def add_monitor(ctx, url: str, enabled: bool = True) -> dict:
    doc = await ctx.store.create(
        "wt_monitors",
        {"url": url, "enabled": enabled, "owner_id": ctx.user.imperal_id, "checks": 0},
    )
    return {"status": "success", "id": doc.id}


@ext.tool("list_monitors", description="List your monitors.")
async def list_monitors(ctx) -> dict:
    page = await ctx.store.query("wt_monitors", order_by="created_at", limit=100)
    return {"items": [{"id": d.id, **d.data} for d in page.data]}


@ext.schedule("check_monitors", cron="0 * * * *")
async def check_monitors(ctx) -> dict:
    checked = 0
    async for uid in ctx.store.list_users("wt_monitors"):
        user_ctx = ctx.as_user(uid)
        monitors = await user_ctx.store.query("wt_monitors", where={"enabled": True})
        for m in monitors.data:
            await check_one(user_ctx, m)
            checked += 1
    return {"checked": checked}


async def check_one(user_ctx, monitor) -> None:
    """Record a check (this sample does not reach the network: machines may have none)."""
    await user_ctx.store.update(
        "wt_monitors",
        monitor.id,
        {
            "checks": monitor.data.get("checks", 0) + 1,
            "last_checked": user_ctx.time.now_utc,
        },
    )
