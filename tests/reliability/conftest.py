"""Fixtures of the reliability suite: private servers, and the platform on them.

The fault tests run the production server (scripts/serve.sh) and a traffic
process on a private PostgreSQL cluster and a private redis-server, both on
spare loopback ports (tests/reliability/services.py); they stop, restart and
kill those, never the machine's shared services.
"""

import logging
import os

import pytest

from .services import Stack, missing_binaries

REQUIRE_SERVICES = os.environ.get("IMPERAL_TEST_REQUIRE_SERVICES") == "1"
# The pool timeout of the platform processes on the private stack: a call
# that waits longer than this (plus a margin) for the database counts as a hang.
POOL_TIMEOUT = 5.0
# The suite's own HTTP clients would log every request they send.
logging.getLogger("httpx").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """A private PostgreSQL + Redis, a migrated platform database and its server."""
    reason = missing_binaries()
    if reason:
        if REQUIRE_SERVICES:
            pytest.fail(f"the reliability suite needs private servers: {reason}")
        pytest.skip(reason)
    private = Stack(
        tmp_path_factory.mktemp("stack"),
        IMPERAL_STORE_POOL_TIMEOUT=str(POOL_TIMEOUT),
        IMPERAL_DB_POOL_SIZE="4",
    )
    try:
        private.start()
    except BaseException:
        private.stop()
        raise
    yield private
    private.stop()
