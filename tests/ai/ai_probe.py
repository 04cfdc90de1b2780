"""An extension whose tools use ctx.ai the way real extensions do (suggesting tasks)."""

from imperal_sdk import Extension

ext = Extension("ai-probe", description="ctx.ai tests")


@ext.tool("suggest", description="Ask the model for task suggestions.")
async def suggest(ctx, prompt: str, model: str = "", options: dict | None = None):
    kwargs = dict(options or {})
    if model:
        kwargs["model"] = model
    result = await ctx.ai.complete(prompt, **kwargs)
    return {
        "text": result.text,
        "model": result.model,
        "usage": result.usage,
        "tokens_used": result.tokens_used,
        "stop_reason": result.stop_reason,
    }


@ext.tool("available", description="Whether ctx.ai is served here.")
async def available(ctx):
    return {"ai": bool(ctx.ai)}


@ext.tool("fetch", description="Call a URL with ctx.http.")
async def fetch(ctx, url: str):
    response = await ctx.http.get(url)
    return {"status": response.status_code}
