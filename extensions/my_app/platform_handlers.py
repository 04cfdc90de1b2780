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
