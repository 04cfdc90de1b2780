"""A second process for the cross-process tests: read one ctx.cache key, write another.

    python -m tests.cache.other_process '<IMPERAL_CACHE as JSON>'

Prints {"seen": <what "from-parent" held, or null>} as JSON.
"""

import json
import os
import sys

import django


def main(config):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")
    django.setup()
    from asgiref.sync import async_to_sync
    from django.conf import settings

    from apps.accounts.identity import PlatformUserContext
    from apps.extensions.context import build_context
    from apps.quotas import limits as quota_limits
    from tests.fixtures.extensions.cache_probe import ResourceSummary, ext

    settings.IMPERAL_CACHE = config
    # No database here, as in the suite (tests/cache/conftest.py).
    quota_limits.table._rows = {}
    quota_limits.table.refresh_seconds = float("inf")
    user = PlatformUserContext(
        imperal_id="alice", email="", tenant_id="default", role="user"
    )
    cache = build_context(ext, user).cache
    seen = async_to_sync(cache.get)("from-parent", ResourceSummary)
    reply = ResourceSummary(total=(seen.total if seen else 0) + 1, active=0, last_id="")
    async_to_sync(cache.set)("from-child", reply, ttl_seconds=60)
    print(json.dumps({"seen": seen.model_dump() if seen else None}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
