"""Entry point of the web-tools extension directory (IMPERAL_EXTENSIONS: extensions/web_tools)."""

import monitors  # noqa: F401  (registers handlers on ext)
from app import ext

__all__ = ["ext"]
