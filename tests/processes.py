"""Run Python code in a fresh platform process, started the way a server or a command is."""

import os
import subprocess
import sys

from django.conf import settings


def platform_process(code, timeout=60, **variables):
    """Run ``code`` with the platform's settings plus environment ``variables``;
    return the finished process (its stdout and stderr as text)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "imperal_platform.settings",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
