"""The authors' pytest plugin, enabled for these tests only.

pytest takes ``pytest_plugins`` from the root conftest alone, so the plugin's
fixture and hook are imported here instead: the same objects an author's
``pytest_plugins = ["imperal_platform.testing"]`` registers.
"""

from pathlib import Path

import pytest
from django.db import connections

from imperal_platform.testing import imperal, pytest_pyfunc_call  # noqa: F401

PUBLIC_SHAPED = Path(__file__).resolve().parent.parent / "fixtures" / "public_shaped"


@pytest.fixture
def live_server(live_server):
    """pytest-django's live server, whose request threads close their connections.

    Its threads die with their connections open when CONN_MAX_AGE keeps them
    (production does), and the test database could not be dropped at the end.
    """
    database = connections.databases["default"]
    kept = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    yield live_server
    database["CONN_MAX_AGE"] = kept
