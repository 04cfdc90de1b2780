"""An extension cannot reach another extension's ctx.db through its own ctx.db.

The review's attack: ``ctx.db.backend`` was the process-wide backend, so a
tool could check out another extension's connection, drop its schema or file,
and on PostgreSQL read the platform's and other roles' connection strings.
Each step is run as the attacker's tool, on both ctx.db backends.
"""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.db.face import DbFace
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool

pytestmark = pytest.mark.django_db(transaction=True)

NOTES = [{"id": 1, "body": "the victim's own"}]


@pytest.fixture
def attacker(use_extensions):
    return use_extensions("tests.security.attacker").get("attacker").ext


def victim():
    """Return the ctx.db of the extension "victim", holding NOTES."""
    db = DbFace("victim")
    run(db, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    run(db, "INSERT INTO notes VALUES (1, 'the victim''s own')")
    return db


def run(db, sql):
    async def execute():
        async with db.acquire() as conn:
            return await conn.execute(sql)

    return async_to_sync(execute)()


def notes(db):
    return run(db, "SELECT id, body FROM notes ORDER BY id").all()


def refused(action):
    """Run the attacker's ``db_backend`` tool as alice; assert it was refused and
    recorded; return the exception its handler raised."""
    with pytest.raises(HandlerFailed) as failed:
        async_to_sync(
            prepare_tool("attacker", "db_backend", "alice", {"action": action}).run
        )()
    exc = failed.value.exc
    assert isinstance(exc, AttributeError)
    assert "ctx.db has no backend" in str(exc)
    event = SecurityEvent.objects.get()
    assert (event.kind, event.app_id, event.user_id, event.detail) == (
        "db_backend_access",
        "attacker",
        "alice",
        {"attribute": "backend"},
    )
    return exc


@pytest.mark.parametrize("action", ["checkout", "deprovision"])
def test_ctx_db_reaches_no_other_extensions_area(ctx_db, attacker, alice, action):
    db = victim()

    refused(action)

    assert notes(db) == NOTES
    assert notes(DbFace("victim")) == NOTES  # a new checkout: the area is still there


@pytest.mark.postgres
@pytest.mark.parametrize("action", ["server_conninfo", "extension_conninfo"])
def test_ctx_db_reads_no_connection_string(postgres_ctx_db, attacker, alice, action):
    db = victim()
    secrets = [
        postgres_ctx_db.server_conninfo(),
        postgres_ctx_db.extension_conninfo("victim"),
    ]

    exc = refused(action)

    assert not any(secret in str(exc) for secret in secrets)
    assert notes(db) == NOTES
