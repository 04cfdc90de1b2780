"""The seed's migration patterns (promote cache -> store, demote store -> cache), verbatim,
with thin tools that run them."""

from app import ConnectionState, InboxSnapshot, ext


async def get_connection(ctx) -> ConnectionState:
    # Check store first (primary source of truth after migration)
    doc = await ctx.store.get("connections", "primary")
    if doc is not None:
        return ConnectionState(**doc.data)

    # Fallback to cache during migration window
    cached = await ctx.cache.get("connection_state", ConnectionState)
    if cached is not None:
        # Promote to store so future reads skip the cache
        await ctx.store.create(
            "connections", {"doc_id": "primary", **cached.model_dump()}
        )
        return cached

    return ConnectionState(account_id="", connected=False)


async def get_inbox_snapshot(ctx) -> InboxSnapshot:
    # Try cache first (new path)
    cached = await ctx.cache.get("inbox_snapshot", InboxSnapshot)
    if cached is not None:
        return cached

    # Migrate: clean up legacy store document if it exists
    old = await ctx.store.get("inbox_snapshots", "latest")
    if old is not None:
        await ctx.store.delete("inbox_snapshots", old.id)

    # Build from live data and cache it
    snapshot = InboxSnapshot(message_ids=[], unread=0)  # simplified
    await ctx.cache.set("inbox_snapshot", snapshot, ttl_seconds=90)
    return snapshot


@ext.tool(
    "connection_state",
    description="Return the connection state: the store first, the cache during migration.",
)
async def connection_state(ctx) -> dict:
    return {"status": "success", "connection": (await get_connection(ctx)).model_dump()}


@ext.tool(
    "inbox_snapshot",
    description="Return the inbox snapshot from the cache, removing the legacy store copy.",
)
async def inbox_snapshot(ctx) -> dict:
    return {
        "status": "success",
        "snapshot": (await get_inbox_snapshot(ctx)).model_dump(),
    }
