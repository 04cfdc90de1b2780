"""Attacks on a context's identity through public attributes, and what a refusal costs.

Each test runs the attack as an extension would (a tool called through the
invocation path, as ``manage.py ext call`` does), then checks the refusal, that
no other partition changed, and the SecurityEvent left behind.
"""

import logging

import pytest
from asgiref.sync import async_to_sync
from prometheus_client import REGISTRY

from apps.accounts.models import SecurityEvent
from apps.accounts.security import DETAIL_VALUE_MAX_CHARS
from apps.extensions.context import IdentityFixed
from apps.extensions.errors import HandlerFailed, HandlerTimeout
from apps.extensions.invocation import prepare_tool
from apps.store.models import AuditEntry, Document

# Committed for real: refusals inside a handler record their SecurityEvent from a
# writer thread, which a test transaction holding SQLite's write lock would block
# (production holds no transaction open around a handler).
pytestmark = pytest.mark.django_db(transaction=True)

ATTACKER = "tests.security.attacker"


@pytest.fixture
def attacker(use_extensions):
    return use_extensions(ATTACKER).get("attacker").ext


def call(tool, user="alice", **params):
    return async_to_sync(prepare_tool("attacker", tool, user, params).run)()


def refused(tool, user="alice", **params):
    """Run ``tool``, which must fail; return the exception the handler raised."""
    with pytest.raises(HandlerFailed) as failed:
        call(tool, user, **params)
    return failed.value.exc


def threats(kind):
    sample = REGISTRY.get_sample_value(
        "imperal_store_threat_total", {"kind": kind, "app_id": "attacker"}
    )
    return sample or 0


def stored():
    return (
        sorted(Document.objects.values_list("user_id", "collection", "doc_id")),
        AuditEntry.objects.count(),
    )


@pytest.mark.parametrize("tenant", ["", "acme"], ids=["same-tenant", "cross-tenant"])
def test_reassigning_ctx_user_to_system_is_refused_and_recorded(
    attacker, alice, bob, tenant
):
    call("write_own", "bob", doc_id="bobs")
    before, counted = stored(), threats("context_identity_reassign")

    exc = refused("become_system", target="bob", tenant=tenant)

    assert isinstance(exc, IdentityFixed)
    assert "ctx.user is fixed when the context is built" in str(exc)
    assert stored() == before
    event = SecurityEvent.objects.get(kind="context_identity_reassign")
    assert (event.user_id, event.app_id, event.tenant_id) == (
        "alice",
        "attacker",
        "default",
    )
    assert event.detail == {"attribute": "user"}
    assert threats("context_identity_reassign") == counted + 1
    assert not AuditEntry.objects.filter(actor="system-as-user").exists()


@pytest.mark.parametrize(
    "attribute",
    ["user", "tenant", "store", "db", "notify", "agency_id", "_partition", "_actor"],
)
def test_no_identity_attribute_of_ctx_can_be_reassigned(attacker, alice, attribute):
    exc = refused("swap_surface", attribute=attribute)
    assert isinstance(exc, IdentityFixed)
    assert f"ctx.{attribute} is fixed" in str(exc)
    assert SecurityEvent.objects.get().detail == {"attribute": attribute}


def test_pointing_ctx_db_at_another_extension_is_refused_and_recorded(attacker, alice):
    exc = refused("retarget_db", target="victim-app")
    assert isinstance(exc, AttributeError)
    assert "ctx.db.app_id is fixed" in str(exc)
    event = SecurityEvent.objects.get()
    assert (event.kind, event.detail) == (
        "db_app_id_reassign",
        {"target": "victim-app"},
    )


def test_repeated_refusals_share_one_counted_row_and_one_log_line(
    attacker, alice, caplog, settings
):
    settings.IMPERAL_SECURITY_EVENT_INTERVAL = 10**9  # no boundary mid-test
    counted = threats("as_user_from_user_context")
    with caplog.at_level(logging.WARNING, logger="imperal.security"):
        assert call("probe_as_user", times=50) == {"refused": 50}

    event = SecurityEvent.objects.get()
    assert (event.kind, event.count) == ("as_user_from_user_context", 50)
    assert SecurityEvent.objects.attempts() == 50
    assert threats("as_user_from_user_context") == counted + 50
    lines = [r for r in caplog.records if r.name == "imperal.security"]
    assert len(lines) == 1


def test_each_interval_starts_a_new_row(attacker, alice, settings):
    settings.IMPERAL_SECURITY_EVENT_INTERVAL = 1
    call("probe_as_user")
    SecurityEvent.objects.update(bucket=0)  # as if it were long ago
    call("probe_as_user")
    assert sorted(SecurityEvent.objects.values_list("count", flat=True)) == [1, 1]


def test_a_huge_target_id_is_clipped_in_the_row_and_the_log(attacker, alice, caplog):
    with caplog.at_level(logging.WARNING, logger="imperal.security"):
        assert call("probe_as_user", target="x" * 2_000_000) == {"refused": 1}

    target = SecurityEvent.objects.get().detail["target"]
    assert len(target) <= DETAIL_VALUE_MAX_CHARS
    assert target.endswith(f"(+{2_000_000 - DETAIL_VALUE_MAX_CHARS + 12})")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "imperal.security"]
    assert len(line) < 1000


def test_a_tool_past_its_timeout_is_cancelled_with_a_clear_error(
    attacker, alice, settings
):
    settings.IMPERAL_HANDLER_TIMEOUTS = {"attacker": 0.2}
    with pytest.raises(
        HandlerTimeout, match=r"attacker.sleep did not finish within 0.2 s"
    ):
        call("sleep", seconds=30)
    assert HandlerTimeout.code == "timeout"


def test_the_default_timeout_applies_without_an_override(attacker, alice, settings):
    settings.IMPERAL_HANDLER_TIMEOUT = 0.2
    with pytest.raises(HandlerTimeout, match="IMPERAL_HANDLER_TIMEOUT"):
        call("sleep", seconds=30)
    assert call("sleep", seconds=0.01) == {"slept": 0.01}
