"""Entry point of the my-app extension directory (IMPERAL_EXTENSIONS: extensions/my_app)."""

import common_mistakes  # noqa: F401
import migration_patterns  # noqa: F401
import platform_handlers  # noqa: F401  (registers handlers on ext)
import seed_handlers  # noqa: F401
from app import ext

__all__ = ["ext"]
