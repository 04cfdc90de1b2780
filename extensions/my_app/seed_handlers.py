"""The seed's handlers, verbatim: tools, the dashboard panel and the daily digest."""

from app import DashboardView, ResourceSummary, ext


@ext.tool(
    "get_resource_summary", description="Return resource summary for the current user."
)
async def get_resource_summary(ctx) -> dict:
    cached = await ctx.cache.get("summary", ResourceSummary)
    if cached is not None:
        return {"status": "success", "data": cached.model_dump()}

    # Expensive operation — fetch live, then cache for 90 seconds
    total = await ctx.store.count("resources")
    active = await ctx.store.count("resources", where={"is_active": True})
    page = await ctx.store.query("resources", order_by="-updated_at", limit=1)
    last_id = page.data[0].id if page.data else ""

    summary = ResourceSummary(total=total, active=active, last_id=last_id)
    await ctx.cache.set("summary", summary, ttl_seconds=90)
    return {"status": "success", "data": summary.model_dump()}


async def _fetch_dashboard(ctx) -> DashboardView:
    total = await ctx.store.count("campaigns", where={"status": "active"})
    return DashboardView(spend_today=0.0, clicks=0, active_campaigns=total)


@ext.panel("dashboard")
async def panel_dashboard(ctx):
    data = await ctx.cache.get_or_fetch(
        "dashboard",
        DashboardView,
        fetcher=lambda: _fetch_dashboard(ctx),
        ttl_seconds=120,
    )
    # render data ...
    return {"dashboard": data.model_dump()}


@ext.tool("save_contact", description="Save or update a contact.")
async def save_contact(ctx, email: str, name: str) -> dict:
    existing = await ctx.store.query("contacts", where={"email": email})
    if existing.data:
        doc = await ctx.store.update(
            "contacts", existing.data[0].id, {"email": email, "name": name}
        )
    else:
        doc = await ctx.store.create("contacts", {"email": email, "name": name})
    return {"status": "success", "id": doc.id}


@ext.tool("list_active_monitors", description="List all active monitors.")
async def list_active_monitors(ctx) -> dict:
    page = await ctx.store.query(
        "wt_monitors",
        where={"owner_id": ctx.user.imperal_id, "is_active": True},
        order_by="-updated_at",
        limit=50,
    )
    return {
        "status": "success",
        "items": [{"id": d.id, **d.data} for d in page.data],
    }


@ext.schedule("daily_digest", cron="0 8 * * *")
async def send_daily_digest(ctx) -> None:
    async for user_ctx in ctx.store.list_users("contacts"):
        docs = await user_ctx.store.query("contacts")
        if docs.data:
            await user_ctx.notify(f"You have {len(docs.data)} contacts.")


@ext.tool("fetch_spend_report", description="Return monthly spend totals per campaign.")
async def fetch_spend_report(ctx, year: int, month: int) -> dict:
    uid = ctx.user.imperal_id
    async with ctx.db.session() as session:
        rows = await session.execute(
            "SELECT campaign_id, SUM(spend) AS total FROM ad_spend "
            "WHERE user_id = :uid AND year = :year AND month = :month "
            "GROUP BY campaign_id ORDER BY total DESC LIMIT 50",
            {"uid": uid, "year": year, "month": month},
        )
    return {"status": "success", "rows": [dict(r) for r in rows]}
