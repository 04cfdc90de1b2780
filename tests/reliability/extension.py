"""The extensions the reliability suite drives: a store and cache probe, twice.

``reliable`` and ``reliable-b`` are the same handlers under two app ids, so the
isolation fuzzer has two extensions whose partitions must never meet.
"""

from imperal_sdk import Extension
from pydantic import BaseModel


class Remembered(BaseModel):
    value: int


def _define(app_id):
    ext = Extension(app_id, description="Reliability probe: store and cache.")
    ext.cache_model("remembered")(Remembered)

    @ext.tool("remember", description="Store a value under a key, and cache it.")
    async def remember(ctx, key: str, value: int) -> dict:
        doc = await ctx.store.set(f"notes/{key}", {"value": value})
        await ctx.cache.set(key, Remembered(value=value), ttl_seconds=300)
        return {"value": doc.data["value"]}

    @ext.tool("recall", description="Read a key: from the cache, else the store.")
    async def recall(ctx, key: str) -> dict:
        cached = await ctx.cache.get(key, Remembered)
        if cached is not None:
            return {"value": cached.value, "cached": True}
        doc = await ctx.store.get("notes", key)
        return {"value": None if doc is None else doc.data["value"], "cached": False}

    @ext.tool(
        "put", description="Set document ``key`` of ``collection`` to {v: value}."
    )
    async def put(ctx, collection: str, key: str, value: int) -> dict:
        await ctx.store.set(f"{collection}/{key}", {"v": value})
        return {"v": value}

    @ext.tool("peek", description="Return document ``key``'s v, or None.")
    async def peek(ctx, collection: str, key: str) -> dict:
        doc = await ctx.store.get(collection, key)
        return {"v": None if doc is None else doc.data["v"]}

    @ext.tool("tally", description="Count the documents of ``collection``.")
    async def tally(ctx, collection: str) -> dict:
        return {"count": await ctx.store.count(collection)}

    @ext.tool("fail", description="Raise an exception whose message is ``text``.")
    async def fail(ctx, text: str) -> dict:
        raise RuntimeError(text)

    return ext


ext = _define("reliable")
