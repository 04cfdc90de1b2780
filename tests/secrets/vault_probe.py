"""An extension declaring one secret of each kind imperal-sdk has, and tools using them."""

import dataclasses

from imperal_sdk import Extension

ext = Extension("vault-probe", description="ctx.secrets for the vault's tests.")

ext.secret("api_key", "Your API key for the upstream service.", max_bytes=64)
ext.secret(
    "refresh_token", "OAuth refresh token, written after authorize.",
    write_mode="extension",
)  # fmt: skip
ext.secret(
    "note", "A short note either side may write.", write_mode="both", max_bytes=16
)
ext.secret("client_secret", "The OAuth client secret of this deployment.", scope="app")
ext.secret(
    "fallback_secret",
    "An app secret the operator may give in the environment.",
    scope="app",
    env_fallback="IMPERAL_APPSECRET_VAULT_PROBE_FALLBACK",
)


@ext.tool("read", description="Return a secret's value (for the tests only).")
async def read(ctx, name: str) -> dict:
    return {"value": await ctx.secrets.get(name)}


@ext.tool("write", description="Set a secret from the extension.")
async def write(ctx, name: str, value: str) -> dict:
    await ctx.secrets.set(name, value)
    return {"written": name}


@ext.tool("remove", description="Delete a secret from the extension.")
async def remove(ctx, name: str) -> dict:
    return {"was_set": await ctx.secrets.delete(name)}


@ext.tool("check", description="Say whether a secret is set.")
async def check(ctx, name: str) -> dict:
    return {"is_set": await ctx.secrets.is_set(name)}


@ext.tool("listing", description="List the declared secrets' states.")
async def listing(ctx) -> dict:
    return {"secrets": [dataclasses.asdict(s) for s in await ctx.secrets.list()]}


@ext.tool("read_for", description="Try to read another user's secret.")
async def read_for(ctx, user_id: str, name: str) -> dict:
    return {"value": await ctx.secrets.for_user(user_id).get(name)}


@ext.tool("fail_after_reading", description="Read a secret, then fail.")
async def fail_after_reading(ctx, name: str) -> dict:
    token = await ctx.secrets.get(name)
    raise RuntimeError(f"upstream refused the request ({len(token)} chars sent)")
