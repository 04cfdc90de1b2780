"""The web-tools extension object (monitors live in ctx.store, as the seed describes)."""

from imperal_sdk import Extension

ext = Extension(
    "web-tools",
    version="1.0.0",
    display_name="Web Tools",
    description="Web Tools extension — watch websites; an hourly runner checks every monitor.",
    icon="icon.svg",
    actions_explicit=True,
)
