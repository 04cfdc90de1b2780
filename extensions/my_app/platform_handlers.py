"""Small tools beyond the seed that show the kernel Context at work."""

from app import ext


@ext.tool("whoami", description="Return who the platform says the caller is.")
async def whoami(ctx) -> dict:
    return {
        "imperal_id": ctx.user.imperal_id,
        "id": ctx.user.id,
        "email": ctx.user.email,
        "role": ctx.user.role,
        "tenant_id": ctx.tenant.tenant_id,
        "extension": ctx._extension_id,
        "now_utc": ctx.time.now_utc,
    }


@ext.tool("notify_me", description="Send yourself a notification.")
async def notify_me(
    ctx, message: str, priority: str = "normal", channel: str = "in_app"
) -> dict:
    await ctx.progress(50, "sending")
    await ctx.notify(message, priority=priority, channel=channel)
    await ctx.progress(100, "sent")
    return {"status": "success", "to": ctx.user.imperal_id, "priority": priority}


@ext.tool("record_spend", description="Add spend to one of your campaigns for a day.")
async def record_spend(
    ctx, campaign_id: str, year: int, month: int, spend: float, day: int = 1
) -> dict:
    async with ctx.db.session() as session:
        await session.execute(
            "INSERT INTO ad_spend (user_id, campaign_id, year, month, day, spend) "
            "VALUES (:uid, :campaign_id, :year, :month, :day, :spend)",
            {
                "uid": ctx.user.imperal_id,
                "campaign_id": campaign_id,
                "year": year,
                "month": month,
                "day": day,
                "spend": spend,
            },
        )
    return {"status": "success", "campaign_id": campaign_id, "spend": spend}
