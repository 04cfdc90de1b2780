"""The seed's "my-app" extension object and its cache models.

Every example of the seed (Cache vs store vs db) declares its own
``ext = Extension("my-app", ...)``; here they share this one instance, and the
handlers live in the sibling modules, as in Imperal extension repositories.
"""

from imperal_sdk import Extension
from pydantic import BaseModel

ext = Extension(
    "my-app",
    # ctx.db's schema: SQL files (relative to this directory) applied by
    # `manage.py migrate_extensions`.
    migrations_dir="migrations",
    display_name="My App",
    description="My App extension — manage resources with AI assistance.",
    icon="icon.svg",
    actions_explicit=True,
)


class ResourceSummary(BaseModel):
    total: int
    active: int
    last_id: str


class DashboardView(BaseModel):
    spend_today: float
    clicks: int
    active_campaigns: int


class InboxPage(BaseModel):
    messages: list[dict]
    total: int


class UnreadSummary(BaseModel):
    count: int
    newest_from: str


class ConnectionState(BaseModel):
    account_id: str
    connected: bool


class InboxSnapshot(BaseModel):
    message_ids: list[str]
    unread: int


class InboxView(BaseModel):
    messages: list[dict]


# Register at module level — not inside a handler or function
ext.cache_model("resource_summary")(ResourceSummary)
ext.cache_model("dashboard_view")(DashboardView)
ext.cache_model("inbox_page")(InboxPage)
ext.cache_model("unread_summary")(UnreadSummary)
ext.cache_model("connection_state")(ConnectionState)
ext.cache_model("inbox_snapshot")(InboxSnapshot)
ext.cache_model("inbox_view")(InboxView)
