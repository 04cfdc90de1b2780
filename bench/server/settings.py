"""The platform's settings with the benchmark's URLconf: bench views never ship."""

import os

from imperal_platform.settings import *  # noqa: F403

ROOT_URLCONF = "bench.server.urls"

if os.environ.get("BENCH_NO_MIDDLEWARE") == "1":
    MIDDLEWARE = []
