"""The platform's settings with the benchmark's URLconf: the bare view never ships."""

from imperal_platform.settings import *  # noqa: F403

ROOT_URLCONF = "bench.gateway.urls"
