"""Declared tool scopes are enforced: a user holds their own scopes plus the
extension's capabilities; anything beyond is refused before the tool runs, with a
SecurityEvent the operator sees."""

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import SecurityEvent
from apps.extensions.invocation import prepare_tool
from apps.extensions.models import Installation
from apps.extensions.scopes import REFUSAL_KIND, ScopeForbidden
from apps.store.models import Document

pytestmark = pytest.mark.django_db

APP = "scoped-probe"


@pytest.fixture
def probe(use_extensions):
    return use_extensions("tests.fixtures.extensions.scoped_probe").get(APP)


def call(tool, user="alice"):
    return async_to_sync(prepare_tool(APP, tool, user).run)()


def grant(user, *scopes):
    user.scopes = list(scopes)
    user.save()


def test_the_extensions_capabilities_are_what_a_plain_user_holds_in_it(probe, alice):
    assert call("read_notes") == {"scopes": ["notes.read"]}
    assert call("open") == {"open": True}
    assert Document.objects.get(collection="reads").data == {"by": "alice"}


def test_a_scope_beyond_the_capabilities_is_refused_before_the_tool_runs(probe, alice):
    with pytest.raises(ScopeForbidden) as refused:
        prepare_tool(APP, "purge_notes", "alice")
    assert refused.value.code == "forbidden"
    assert str(refused.value).startswith(
        "scoped-probe.purge_notes requires scope(s) ['notes.admin'] that user "
        "'alice' does not hold"
    )
    assert not Document.objects.filter(collection="purges").exists()
    assert not Installation.objects.exists()  # a refused call is not a use
    event = SecurityEvent.objects.get(kind=REFUSAL_KIND)
    assert (event.app_id, event.user_id, event.detail) == (
        APP,
        "alice",
        {"tool": "purge_notes", "missing": "notes.admin"},
    )


def test_an_operator_grants_a_scope_in_the_users_scopes(probe, alice, bob):
    grant(alice, "notes.admin")
    assert call("purge_notes") == {"purged": True}
    with pytest.raises(ScopeForbidden):
        prepare_tool(APP, "purge_notes", "bob")


@pytest.mark.parametrize("granted", [["reports.*"], ["*"], ["reports.export"]])
def test_scopes_match_as_imperal_sdk_matches_them(probe, alice, granted):
    grant(alice, *granted)
    assert call("export") == {"exported": True}


def test_the_cli_refusal_names_the_missing_scope(probe, alice):
    with pytest.raises(CommandError, match=r"requires scope\(s\) \['notes.admin'\]"):
        call_command("ext", "call", APP, "purge_notes", "--user", "alice")
    assert not Document.objects.exists()
