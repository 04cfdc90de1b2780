"""What an isolated extension's worker holds: its own settings, no platform credential."""

import os

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.invocation import prepare_tool

from .conftest import APP

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PLATFORM_VARIABLES = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "IMPERAL_VAR_DIR",
    "IMPERAL_EXTENSION_ENV",
    "DJANGO_SETTINGS_MODULE",
}


@pytest.mark.parametrize("runtime", ["isolated"], indirect=True)
def test_a_worker_gets_its_own_variables_and_none_of_the_platforms(runtime, alice):
    seen = async_to_sync(prepare_tool(APP, "environment", "alice").run)()
    assert seen["notes_api"] == "https://notes.example"
    assert not PLATFORM_VARIABLES & set(seen["names"])
    assert not [name for name in seen["names"] if name.startswith("IMPERAL_WORKER_")]


@pytest.mark.parametrize("runtime", ["isolated"], indirect=True)
def test_a_worker_runs_in_a_process_of_its_own(runtime, alice):
    seen = async_to_sync(prepare_tool(APP, "pid", "alice").run)()
    assert seen["pid"] != os.getpid()
