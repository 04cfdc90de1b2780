"""The attacks of test_identity.py and test_kernel_attacks.py that drive an extension's
handler, run with the attacker isolated: in a worker of the production server.

In a worker the ctx is the extension's own object in its own process, so an
attribute it reassigns changes only that object; what fixes whose data a call
reaches is the call token every request carries, checked by the gateway. Each
attack is refused there (raised in the handler as in-process, a PermissionError
or a ValueError), nothing of another partition changes, and the refusal is a
SecurityEvent of the attacker's own user.

What does not apply isolated, and why:

- reassigning an identity attribute is not refused *as such* (in-process:
  IdentityFixed); ``test_reassigning_ctx_user_and_tenant_moves_no_write``
  shows that what the handler then writes still lands in its own partition;
- the repeated, interval and clipping tests of test_identity.py test the
  SecurityEvent recorder, which a refusal at the gateway goes through the same;
  a user context's own ``ctx.as_user`` call is refused in the worker before any
  request, with no event (an attacker skips that check; the gateway's is the one
  that counts, and records);
- the timeout tests: a worker past its deadline is killed
  (tests/runtime/test_faults.py);
- ``ctx.db`` attacks (test_db_*.py, ``retarget_db``): ctx.db is not served to
  workers yet (docs/operators/runtimes.md);
- an app id claimed twice and privileged user names: the registry and the user
  model, not a handler.
"""

import json
import re

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.models import SecurityEvent
from apps.extensions.errors import HandlerFailed
from apps.extensions.invocation import prepare_tool
from apps.notifications.models import Notification
from apps.store.models import AuditEntry, Document
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APP = "attacker"
ENTRY = "tests.security.attacker"


@pytest.fixture(scope="module")
def attacker_server(django_db_setup, django_db_blocker, tmp_path_factory):
    live = LiveServer(
        tmp_path_factory.mktemp("attacker"),
        extensions=ENTRY,
        env={
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"}),
            "IMPERAL_RUNTIME_POOL_SIZE": "1",
            "IMPERAL_RUNTIME_CLAIM_WAIT": "1",
        },
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture
def attacker(attacker_server, settings, use_extensions):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: "isolated"}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 30}
    use_extensions(ENTRY)


def call(tool, user="alice", **params):
    return async_to_sync(prepare_tool(APP, tool, user, params).run)()


def refused(tool, user="alice", **params):
    """Run ``tool``, which must fail; return the message the worker reported."""
    with pytest.raises(HandlerFailed) as failed:
        call(tool, user, **params)
    return str(failed.value)


def stored():
    return (
        sorted(Document.objects.values_list("user_id", "tenant_id", "collection")),
        AuditEntry.objects.count(),
    )


@pytest.mark.parametrize("tenant", ["", "acme"], ids=["same-tenant", "cross-tenant"])
def test_a_worker_that_makes_itself_system_is_refused_at_the_gateway_and_recorded(
    attacker, alice, bob, tenant
):
    call("write_own", "bob", doc_id="bobs")
    before = stored()

    message = refused("become_system", target="bob", tenant=tenant)

    assert "Forbidden: gateway:" in message
    assert "is not this credential's user 'alice'" in message
    assert stored() == before
    event = SecurityEvent.objects.get(kind="gateway_user_mismatch")
    assert (event.user_id, event.app_id, event.tenant_id) == (
        "alice",
        "attacker",
        "default",
    )
    assert event.detail["named"] == "bob"


def test_reassigning_ctx_user_and_tenant_moves_no_write(attacker, alice, bob):
    answer = call("impersonate", target="bob", tenant="acme")

    assert answer["user"] == "bob"  # the worker's own object says so
    assert stored()[0] == [("alice", "default", "loot")]  # the platform does not


def test_notifying_another_user_is_refused_at_the_gateway_and_recorded(
    attacker, alice, bob
):
    message = refused("notify_other", target="bob")

    assert "Forbidden: gateway: user_id 'bob'" in message
    assert not Notification.objects.exists()
    event = SecurityEvent.objects.get()
    assert (event.kind, event.user_id, event.detail["named"]) == (
        "gateway_user_mismatch",
        "alice",
        "bob",
    )


@pytest.mark.parametrize("part", ["body", "extra"])
def test_a_notification_over_its_limits_is_refused_by_the_core_naming_the_limit(
    attacker, alice, part
):
    message = refused("notify_huge", part=part, size=100_000)

    assert "PayloadTooLarge:" in message
    assert "the limit is" in message  # the notify core's own refusal, as in-process
    assert not Notification.objects.exists()


@pytest.mark.parametrize("part", ["body", "extra"])
def test_a_20_mb_notification_is_refused_before_anything_is_stored(
    attacker, alice, part
):
    """Past the gateway's body limit the request is refused before it is read; the
    server may close the connection while the worker still sends, so the handler
    gets the 413 (PayloadTooLarge) or httpx's error for the dropped connection."""
    message = refused("notify_huge", part=part)

    assert re.search(
        r"failed: (PayloadTooLarge|ReadError|WriteError|RemoteProtocolError):", message
    )
    assert not Notification.objects.exists()


def test_a_user_context_cannot_reach_the_system_only_calls(attacker, alice, bob):
    call("write_own", "bob", doc_id="bobs")

    assert call("probe_as_user", target="bob", times=3) == {"refused": 3}
    assert stored()[0] == [("bob", "default", "loot")]
