"""The connector sample (extensions/bookmarks) over HTTP, against the production server:
a user stores their token with the REST API, then the tools reach a fake bookmarks
service on loopback with it, through ctx.http (the sample run in-process, then
isolated); nobody else's token, nobody else's bookmarks, and nothing of the token
in the server's log or the Outbound calls."""

import json
import time

import httpx
import pytest

from apps.accounts.models import ApiToken, User
from apps.egress.models import OutboundCall
from extensions.bookmarks.fake_service import FakeBookmarksService
from tests.compat.server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
APP = "bookmarks"
TOOL = f"/api/v1/extensions/{APP}/tools/{{tool}}/call"
SECRET = f"/api/v1/me/secrets/{APP}/api_token"
TOKENS = {"alice": "tok-alice-5d1e9a", "bob": "tok-bob-77c2f0"}


@pytest.fixture(scope="module")
def service():
    with FakeBookmarksService(tokens=set(TOKENS.values())) as fake:
        yield fake


@pytest.fixture(scope="module", params=["in-process", "isolated"])
def server(request, django_db_setup, django_db_blocker, tmp_path_factory, service):
    """The production server, the sample run in-process, then isolated (its ctx.http,
    ctx.config and ctx.secrets served to its worker through the gateway)."""
    service.bookmarks.clear()  # each runtime starts from an empty service
    service.requests.clear()
    config = {APP: {"service": {"api_url": service.url}}}
    live = LiveServer(
        tmp_path_factory.mktemp("bookmarks"),
        extensions="extensions/bookmarks",
        env={
            "IMPERAL_EXTENSION_CONFIG": json.dumps(config),
            "IMPERAL_EXTENSION_RUNTIME": json.dumps({APP: request.param}),
            "IMPERAL_EGRESS_ALLOW": json.dumps({APP: [service.url[len("http://") :]]}),
        },
    ).start()
    yield live
    live.stop()
    log = live.log()
    # The supervisor's start line says which extensions ran in workers.
    isolated = ["bookmarks"] if request.param == "isolated" else []
    assert f'"isolated": {json.dumps(isolated)}' in log
    assert TOOL.format(tool="save") in log  # the log is the server's own
    for token in TOKENS.values():
        assert token not in log


def api(server, user):
    """An httpx client of the REST API signed in as ``user`` (created if needed)."""
    person, _ = User.objects.get_or_create(username=user, imperal_id=user)
    raw = ApiToken.issue(person)[1]
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Token {raw}"}, timeout=30
    )


def call(client, tool, **params):
    return client.post(TOOL.format(tool=tool), json={"params": params})


def test_a_user_stores_a_token_then_the_tools_reach_the_service_with_it(
    server, service
):
    alice = api(server, "alice")
    refused = call(alice, "list")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "secret_missing"
    assert refused.json()["error"]["detail"]["secret"] == "api_token"

    stored = alice.put(SECRET, json={"value": TOKENS["alice"]})
    assert stored.status_code == 200, stored.text
    listed = alice.get(f"/api/v1/me/secrets/{APP}").json()
    assert [(s["name"], s["is_set"]) for s in listed["secrets"]] == [
        ("api_token", True)
    ]
    assert TOKENS["alice"] not in json.dumps(listed)

    saved = call(alice, "save", url="https://example.com/a", title="A")
    assert saved.status_code == 200, saved.text
    assert saved.json()["result"] == {
        "id": 1,
        "url": "https://example.com/a",
        "title": "A",
    }
    page = call(alice, "list").json()["result"]
    assert page["count"] == 1 and page["bookmarks"][0]["url"] == "https://example.com/a"
    assert ("POST", "/api/bookmarks/", TOKENS["alice"]) in service.requests
    assert ("GET", "/api/bookmarks/", TOKENS["alice"]) in service.requests
    assert_recorded_without_path_query_or_token()


def test_another_user_reaches_the_service_only_with_their_own_token(server, service):
    bob = api(server, "bob")
    assert bob.put(SECRET, json={"value": TOKENS["bob"]}).status_code == 200
    assert call(bob, "list").json()["result"] == {"bookmarks": [], "count": 0}
    assert call(bob, "saved_here").json()["result"] == {"saved": []}
    tokens_seen = {token for method, path, token in service.requests if method == "GET"}
    assert tokens_seen <= set(TOKENS.values())


def recorded_calls(user, at_least, timeout=15):
    """Return ``user``'s OutboundCall rows once the server has stored ``at_least``
    (its writer thread stores them in batches, a moment after each call)."""
    deadline = time.monotonic() + timeout
    while True:
        calls = list(OutboundCall.objects.filter(app_id=APP, user_id=user))
        if len(calls) >= at_least or time.monotonic() > deadline:
            return calls
        time.sleep(0.1)


def assert_recorded_without_path_query_or_token():
    calls = recorded_calls("alice", at_least=2)
    assert {(c.method, c.host, c.outcome) for c in calls} >= {
        ("POST", "127.0.0.1", "ok"),
        ("GET", "127.0.0.1", "ok"),
    }
    for row in calls:
        stored = " ".join(
            str(getattr(row, f.attname)) for f in OutboundCall._meta.fields
        )
        assert "/api/bookmarks" not in stored and "limit" not in stored
        assert not any(token in stored for token in TOKENS.values())
