"""Extensions declaring secrets, users, and calls through the kernel."""

import pytest
from asgiref.sync import async_to_sync

from apps.accounts.identity import system_user_context, user_context
from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.extensions.context import build_context
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.registry import get_registry
from apps.extensions.sync import sync_extensions
from apps.secrets.core import Actor, Vault
from apps.secrets.models import SecretAccess

PROBE = "vault-probe"
REQUIRED = "vault-required"
ENTRIES = ("tests.secrets.vault_probe", "tests.secrets.vault_required")
OPERATOR = Actor(SecretAccess.Actor.OPERATOR, "root")


@pytest.fixture
def vault_extensions(use_extensions):
    registry = use_extensions(*ENTRIES)
    sync_extensions(registry)
    return registry


def call(tool, user="alice", app=PROBE, **params):
    """Run a tool through the kernel as ``user``; return its result."""
    return async_to_sync(prepare_tool(app, tool, user, params).run)()


def panel(panel_id, user="alice", app=PROBE):
    return async_to_sync(prepare_panel(app, panel_id, user, {}).run)()


def partition(user="alice", app=PROBE):
    return Partition("default", app, user)


def spec(name, app=PROBE):
    return get_registry().get(app).ext.secrets[name]


def as_user(name, value, user="alice", app=PROBE):
    """Set a secret as its user does through the API."""
    actor = Actor(SecretAccess.Actor.USER, user)
    Vault().set(partition(user, app), spec(name, app), value, actor)


def as_operator(name, value, app=PROBE):
    Vault().set(partition("alice", app), spec(name, app), value, OPERATOR)


def ctx_of(registry, user="alice", app=PROBE):
    """The kernel's ctx of ``user`` (or the system's for "__system__")."""
    ext = registry.get(app).ext
    if user == "__system__":
        return build_context(ext, system_user_context())
    return build_context(ext, user_context(User.objects.get(imperal_id=user)))
