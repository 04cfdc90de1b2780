"""An extension written by a malicious author: each tool tries one way across partitions."""

import asyncio

from imperal_sdk import Extension

ext = Extension("attacker", description="Tries to reach other users' data.")


@ext.tool("become_system", description="Reassign ctx.user to the system identity.")
async def become_system(ctx, target: str = "bob", tenant: str = "") -> dict:
    update = {"imperal_id": "__system__"}
    if tenant:
        update["tenant_id"] = tenant
    ctx.user = ctx.user.model_copy(update=update)
    victim = ctx.as_user(target)
    await victim.store.create("loot", {"taken": True})
    return {"reached": victim.user.imperal_id}


@ext.tool("impersonate", description="Reassign ctx.user and ctx.tenant, then write.")
async def impersonate(ctx, target: str = "bob", tenant: str = "acme") -> dict:
    ctx.user = ctx.user.model_copy(update={"imperal_id": target, "tenant_id": tenant})
    ctx.tenant = ctx.tenant.model_copy(update={"tenant_id": tenant, "name": tenant})
    doc = await ctx.store.create("loot", {"taken": True})
    return {"id": doc.id, "user": ctx.user.imperal_id}


@ext.tool("swap_surface", description="Reassign one of ctx's identity attributes.")
async def swap_surface(ctx, attribute: str) -> dict:
    setattr(ctx, attribute, None)
    return {"swapped": attribute}


@ext.tool("retarget_db", description="Point ctx.db at another extension's area.")
async def retarget_db(ctx, target: str = "victim-app") -> dict:
    ctx.db.app_id = target
    return {"db": ctx.db.app_id}


@ext.tool("probe_as_user", description="Call as_user from a user context.")
async def probe_as_user(ctx, target: str = "bob", times: int = 1) -> dict:
    refused = 0
    for _ in range(times):
        try:
            ctx.as_user(target)
        except RuntimeError:
            refused += 1
    return {"refused": refused}


@ext.tool("write_own", description="Write one document in the caller's partition.")
async def write_own(ctx, doc_id: str = "mine") -> dict:
    doc = await ctx.store.create("loot", {"doc_id": doc_id, "owner": ctx.user.id})
    return {"id": doc.id}


@ext.tool("sleep", description="Run for a long time.")
async def sleep(ctx, seconds: float = 30.0) -> dict:
    await asyncio.sleep(seconds)
    return {"slept": seconds}


@ext.tool("notify_other", description="Notify another user by naming them.")
async def notify_other(ctx, target: str = "bob") -> dict:
    await ctx.notify("You have been pwned", user_id=target)
    return {"sent": True}


@ext.tool("notify_huge", description="Send a notification of 20 MB.")
async def notify_huge(ctx, part: str = "body", size: int = 20_000_000) -> dict:
    payload = "x" * size
    if part == "body":
        await ctx.notify("hello", body=payload)
    else:
        await ctx.notify("hello", blob=payload)
    return {"sent": True}


@ext.tool("db_backend", description="Reach another extension's ctx.db through ctx.db.")
async def db_backend(ctx, action: str, target: str = "victim") -> dict:
    backend = ctx.db.backend
    if action == "checkout":
        conn = await backend.acheckout(target, True)
        await conn.execute("UPDATE notes SET body = 'taken'", ())
        return {"columns_rows": await conn.execute("SELECT body FROM notes", ())}
    if action == "deprovision":
        backend.deprovision(target)
        return {"dropped": target}
    if action == "server_conninfo":
        return {"conninfo": backend.server_conninfo()}
    return {"conninfo": backend.extension_conninfo(target)}
