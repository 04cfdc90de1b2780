"""Calls into tests.security.db_attacker through the kernel, as a user would make them."""

import pytest
from asgiref.sync import async_to_sync

from apps.db.errors import DbPermissionError
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool

ROLE_RULE = "rule: no role changes through ctx.db"


def call(statements, mode="acquire"):
    """Run ``statements`` as alice through db-attacker's tool; return its last rows."""
    params = {"statements": statements, "mode": mode}
    prepared = prepare_tool("db-attacker", "run_sql", "alice", params)
    return async_to_sync(prepared.run)()["rows"]


def failed(statements, mode="acquire"):
    """Run ``statements`` as call() does; return the exception the handler raised."""
    with pytest.raises(HandlerFailed) as caught:
        call(statements, mode)
    return caught.value.exc


def refused(statements, mode="acquire"):
    """Assert ctx.db refused ``statements`` before they ran; return the message."""
    error = failed(statements, mode)
    assert isinstance(error, DbPermissionError), error
    assert error.sqlstate == "42501"
    return str(error)
