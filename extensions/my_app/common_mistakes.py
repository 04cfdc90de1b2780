"""The store examples of the seed's "Common mistakes", verbatim (helpers, not tools).

The cache and db halves of those examples belong to ctx.cache and ctx.db.
"""


async def _right_store_for_credentials(ctx, creds) -> None:
    # RIGHT — credentials are permanent user state
    await ctx.store.create("credentials", creds.model_dump())


async def _wrong_store_for_ephemeral(ctx, snapshot_data, snapshot) -> None:
    # WRONG — creates and deletes documents on every panel render
    doc = await ctx.store.create("inbox_snapshot", snapshot_data)
    # ... use doc ...
    await ctx.store.delete("inbox_snapshot", doc.id)


async def _right_store_for_kv(ctx) -> None:
    # RIGHT — use the store
    doc = await ctx.store.get("config", "user_preferences")  # noqa: F841
