"""Bookmarks: a connector to a bookmarks service (a linkding-style REST API).

The shape of most published extensions: each user keeps their own API token in
``ctx.secrets`` (set through the REST API or the secrets panel), the operator names
the service in ``ctx.config`` (``service.api_url``) and allows it in the egress
policy, and every call reaches the service through ``ctx.http``. A short-lived
copy of the user's list lives in ``ctx.cache``; what was saved from here is
remembered in ``ctx.store``.

Enable it with ``IMPERAL_EXTENSIONS=…,extensions/bookmarks`` and, e.g.::

    IMPERAL_EXTENSION_CONFIG = {"bookmarks": {"service": {"api_url": "https://links.example"}}}
"""

from imperal_sdk import Extension
from pydantic import BaseModel

ext = Extension(
    "bookmarks",
    version="1.0.0",
    display_name="Bookmarks",
    description="Save and list links in your bookmarks service.",
    capabilities=["bookmarks.read", "bookmarks.write"],
)

ext.secret(
    "api_token",
    "Your bookmarks service API token (Settings → Integrations → REST API).",
    required=True,
    max_bytes=200,
)(lambda: None)

TIMEOUT_SECONDS = 15
LIST_TTL_SECONDS = 60


class Bookmark(BaseModel):
    id: int
    url: str
    title: str = ""


@ext.cache_model("bookmark_page")
class BookmarkPage(BaseModel):
    bookmarks: list[Bookmark]
    count: int


class ServiceNotConfigured(RuntimeError):
    """The operator has not named the bookmarks service (ctx.config)."""


async def _service(ctx):
    """Return (base URL, headers with the user's token)."""
    base = ctx.config.get("service.api_url")
    if not base:
        raise ServiceNotConfigured(
            "bookmarks: the operator has not set service.api_url "
            "(IMPERAL_EXTENSION_CONFIG['bookmarks'])"
        )
    token = await ctx.secrets.get("api_token")
    return base.rstrip("/"), {"Authorization": f"Token {token}"}


async def _fetch_page(ctx, limit):
    base, headers = await _service(ctx)
    response = await ctx.http.get(
        f"{base}/api/bookmarks/",
        params={"limit": limit},
        headers=headers,
        timeout=TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    body = response.json()
    return BookmarkPage(
        bookmarks=[Bookmark(**item) for item in body["results"]],
        count=body["count"],
    )


@ext.tool(
    "save", description="Save a link to your bookmarks.", scopes=["bookmarks.write"]
)
async def save(ctx, url: str, title: str = "") -> dict:
    base, headers = await _service(ctx)
    response = await ctx.http.post(
        f"{base}/api/bookmarks/",
        json={"url": url, "title": title},
        headers=headers,
        timeout=TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    saved = Bookmark(**response.json())
    await ctx.store.set(f"saved/{saved.id}", saved.model_dump())
    await ctx.cache.delete("list")
    return saved.model_dump()


@ext.tool("list", description="Your latest bookmarks.", scopes=["bookmarks.read"])
async def list_bookmarks(ctx, limit: int = 20) -> dict:
    page = await ctx.cache.get_or_fetch(
        "list",
        BookmarkPage,
        fetcher=lambda: _fetch_page(ctx, limit),
        ttl_seconds=LIST_TTL_SECONDS,
    )
    return page.model_dump()


@ext.tool("saved_here", description="The links saved through this platform.")
async def saved_here(ctx) -> dict:
    page = await ctx.store.query("saved", order_by="-created_at", limit=50)
    return {"saved": [doc.data for doc in page.data]}


@ext.panel("bookmarks", title="Bookmarks")
async def bookmarks_panel(ctx) -> dict:
    page = await list_bookmarks(ctx)
    return {
        "title": f"{page['count']} bookmarks",
        "items": [
            {"title": b["title"] or b["url"], "link": b["url"]}
            for b in page["bookmarks"]
        ],
    }
