"""The API tests' own extension: a slow tool, an ActionResult, a raising tool."""

import asyncio

from imperal_sdk import Extension
from imperal_sdk.types.action_result import ActionResult
from pydantic import BaseModel

ext = Extension(
    "api-probe",
    version="1.0.0",
    display_name="API probe",
    description="Used by tests/api to observe what the REST API does with handlers.",
)


class Note(BaseModel):
    text: str


ext.cache_model("note")(Note)


@ext.tool("remember", description="Store one note; return its id.")
async def remember(ctx, text: str) -> dict:
    doc = await ctx.store.create("notes", {"text": text})
    return {"id": doc.id, "user": ctx.user.imperal_id}


@ext.tool("notes", description="Page through my notes; `cursor` is a page's cursor.")
async def notes(ctx, cursor: str | None = None, limit: int = 10) -> dict:
    page = await ctx.store.query("notes", limit=limit, cursor=cursor)
    return {"texts": [d.data["text"] for d in page.data], "cursor": page.cursor}


@ext.tool("slow", description="Sleep for `seconds`.")
async def slow(ctx, seconds: float = 5.0) -> dict:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@ext.tool("act", description="Return imperal-sdk's ActionResult.")
async def act(ctx, ok: bool = True):
    if ok:
        return ActionResult.success(data={"user": ctx.user.imperal_id}, summary="done")
    return ActionResult.error("nothing to do")


@ext.tool("leak", description="Raise with a secret in the message.")
async def leak(ctx) -> dict:
    raise RuntimeError("password=hunter2")


@ext.schedule("tick", cron="*/5 * * * *")
async def tick(ctx) -> dict:
    return {"ticked": True}
