"""Fixtures of the console's tests: operators with chosen permissions, logged in
through Django's test client, and partitions holding documents and cache entries."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import User
from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from tests.api.conftest import cache_prefix  # noqa: F401  (a fixture)

from .console_extension import Note
from .console_extension import ext as probe_ext

APP = "console-probe"
VIEW = "store.view_document"
CHANGE = "store.change_document"
DELETE = "store.delete_document"


@pytest.fixture(autouse=True)
def console_extensions(use_extensions):
    return use_extensions("tests.console.console_extension")


@pytest.fixture
def operator(db):
    """Return a function making a logged-in staff Client with ``permissions``."""

    def make(name="olga", *permissions, staff=True):
        user = User.objects.create(username=name, imperal_id=name, is_staff=staff)
        for dotted in permissions:
            label, codename = dotted.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=label, codename=codename)
            )
        client = Client()
        client.force_login(user)
        return client

    return make


def partition(user, app=APP):
    return Partition("default", app, user)


@pytest.fixture
def stored(request):
    """alice: 3 notes and 1 tag, 2 cache entries; bob: 1 note; both in APP."""
    request.getfixturevalue("cache_prefix")
    store = DocumentStore(DjangoConnection())
    for n, status in enumerate(("open", "done", "open")):
        store.create(
            partition("alice"), "user", "notes", {"doc_id": f"n{n}", "status": status}
        )
    store.create(partition("alice"), "user", "tags", {"doc_id": "t0", "name": "x"})
    store.create(partition("bob"), "user", "notes", {"doc_id": "b0", "status": "open"})
    core = get_core()
    for key in ("first", "second"):
        core.set(partition("alice"), probe_ext, key, Note(text=key), ttl_seconds=120)
    return store
