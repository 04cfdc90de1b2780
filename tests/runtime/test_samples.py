"""The bundled contacts sample answers the same run isolated as in-process: every tool
(pagination cursors included) and its panel, on the same stored documents."""

import json

import pytest
from asgiref.sync import async_to_sync

from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.store.models import Document
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP, ENTRY = "contacts", "extensions.contacts"


@pytest.fixture(scope="module")
def contacts_server(django_db_setup, django_db_blocker, tmp_path_factory):
    live = LiveServer(
        tmp_path_factory.mktemp("contacts"),
        extensions=ENTRY,
        env={"IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: "isolated"})},
    )
    live.start()
    yield live
    live.stop()


@pytest.fixture(params=["in-process", "isolated"])
def contacts_runtime(request, settings, use_extensions):
    settings.IMPERAL_EXTENSION_RUNTIME = {APP: request.param}
    settings.IMPERAL_HANDLER_TIMEOUTS = {APP: 15}
    use_extensions(ENTRY)
    if request.param == "isolated":
        request.getfixturevalue("contacts_server")
    return request.param


def tool(handler, user="alice", **params):
    return async_to_sync(prepare_tool(APP, handler, user, params).run)()


def test_the_contacts_sample_answers_the_same(contacts_runtime, alice, bob):
    ada = tool("add_contact", name="Ada", email="ada@example.com")
    tool("add_contact", name="Bob", email="bob@example.com", phone="1")
    tool("add_contact", "bob", name="Eve", email="eve@example.com")
    assert ada["status"] == "success"
    first = tool("list_contacts", limit=1)
    assert [c["name"] for c in first["items"]] == ["Bob"]
    assert first["has_more"] is True
    rest = tool("list_contacts", limit=1, cursor=first["cursor"])
    assert [c["name"] for c in rest["items"]] == ["Ada"]
    assert tool("find_contact", email="ada@example.com") == {
        "status": "success",
        "id": ada["id"],
        "name": "Ada",
        "email": "ada@example.com",
        "phone": "",
    }
    assert tool("find_contact", email="eve@example.com")["status"] == "not_found"
    panel = async_to_sync(prepare_panel(APP, "address_book", "alice", {}).run)()
    assert panel["total"] == 2
    assert [c["name"] for c in panel["contacts"]] == ["Ada", "Bob"]
    assert tool("delete_contact", contact_id=ada["id"])["status"] == "success"
    stored = Document.objects.in_partition("default", APP, "alice")
    assert [d.data["name"] for d in stored] == ["Bob"]
    assert Document.objects.in_partition("default", APP, "bob").count() == 1
