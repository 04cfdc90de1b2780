"""An extension whose calls need two required secrets: a user's and an app's."""

from imperal_sdk import Extension

ext = Extension("vault-required", description="Required secrets for the vault's tests.")

ext.secret("token", "Your token for the upstream.", required=True)
ext.secret("license_key", "This deployment's license.", scope="app", required=True)
# The same name as vault-probe's: another extension's secret is another value.
ext.secret("api_key", "An API key of this extension.", write_mode="both")


@ext.tool("work", description="Use the token; leaves a trace that it ran.")
async def work(ctx) -> dict:
    await ctx.store.create("runs", {"ran": True})
    token = await ctx.secrets.get("token")
    return {"token_chars": len(token)}


@ext.panel("status", title="Status")
async def status(ctx, **params) -> dict:
    return {"ok": True}
