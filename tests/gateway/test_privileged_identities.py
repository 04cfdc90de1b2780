"""An extension-wide service token never acts as "__system__" or "__webhook__".

Those identities read every user's data (list_users, query_all) and write in
partitions of their own. An extension-wide token naming one of them, by any
field of any route, is a 403 that leaves a SecurityEvent and a count, and the
privileged partitions keep exactly what they held; a token bound to the
identity is what may act as it.
"""

import pytest

from apps.accounts.partition import Partition
from apps.cache.core import get_core
from apps.notifications.models import Notification
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document

from .conftest import APP, TENANT, error_of, extcache
from .test_cache_notify_routes import SUMMARY, put_body

STORE = "/v1/internal/store"
KIND = "gateway_privileged_user"
PRIVILEGED = ["__system__", "__webhook__"]


def store():
    return DocumentStore(DjangoConnection())


@pytest.fixture
def privileged_state(registry, cache_prefix):
    """Give each privileged partition a document and a cache entry; return a
    function snapshotting everything those partitions hold."""
    for user in PRIVILEGED:
        partition = Partition(TENANT, APP, user)
        store().create(partition, "system", "notes", {"doc_id": "d", "v": 1})
        get_core().put_entry(
            partition,
            registry.get(APP).ext,
            "resource_summary",
            extcache(user).rsplit("/", 1)[1],
            put_body(SUMMARY),
        )

    def snapshot():
        partitions = [Partition(TENANT, APP, user) for user in PRIVILEGED]
        return {
            "documents": list(
                Document.objects.filter(user_id__in=PRIVILEGED)
                .order_by("pk")
                .values_list("user_id", "collection", "doc_id", "data", "etag")
            ),
            "audit": AuditEntry.objects.count(),
            "notifications": Notification.objects.count(),
            "cache": [
                (str(p), e.model, e.key_hash, e.size)
                for p in partitions
                for e in get_core().list_entries(p)
            ],
        }

    assert len(snapshot()["cache"]) == 2  # the seeding is what the test will compare
    return snapshot


# (route family, how the request names the user); ``who`` is the privileged id.
ATTEMPTS = {
    "create-by-body": lambda gw, t, who: gw.post(
        STORE, {"collection": "notes", "data": {"x": 1}, "user_id": who}, token=t
    ),
    "create-by-header": lambda gw, t, who: gw.post(
        STORE, {"collection": "notes", "data": {"x": 1}}, token=t, x_acting_user=who
    ),
    "get": lambda gw, t, who: gw.get(f"{STORE}/notes/d", token=t, x_acting_user=who),
    "get-by-query": lambda gw, t, who: gw.get(f"{STORE}/notes/d?user_id={who}", token=t),
    "update": lambda gw, t, who: gw.patch(
        f"{STORE}/notes/d", {"data": {"v": 2}}, token=t, x_acting_user=who
    ),
    "delete": lambda gw, t, who: gw.delete(f"{STORE}/notes/d", token=t,
                                           x_acting_user=who),
    "query": lambda gw, t, who: gw.post(f"{STORE}/notes/query", {"user_id": who},
                                        token=t),
    "count": lambda gw, t, who: gw.post(f"{STORE}/notes/count", {"user_id": who},
                                        token=t),
    "list_users": lambda gw, t, who: gw.get(
        f"{STORE}/notes/list_users?cursor=0", token=t, x_acting_user=who
    ),
    "all": lambda gw, t, who: gw.get(f"{STORE}/notes/all", token=t, x_acting_user=who),
    "cache-get": lambda gw, t, who: gw.get(extcache(who), token=t),
    "cache-put": lambda gw, t, who: gw.put(extcache(who, key="new"), put_body(SUMMARY),
                                           token=t),
    "cache-delete": lambda gw, t, who: gw.delete(extcache(who), token=t),
    "notify": lambda gw, t, who: gw.post(
        "/v1/internal/notify", {"user_id": who, "message": "hi"}, token=t
    ),
    "skeleton": lambda gw, t, who: gw.get(
        f"/v1/internal/skeleton/{APP}/{who}/section", token=t
    ),
}  # fmt: skip


@pytest.mark.parametrize("who", PRIVILEGED)
@pytest.mark.parametrize("route", list(ATTEMPTS))
def test_an_extension_wide_token_cannot_act_as_a_privileged_identity(
    gateway, wide_token, threats, privileged_state, route, who
):
    before = privileged_state()
    events, counter = threats.snapshot(KIND)
    response = ATTEMPTS[route](gateway, wide_token, who)
    assert response.status_code == 403, response.content
    error = error_of(response)
    assert error["code"] == "forbidden"
    assert f"{who!r} is a privileged identity" in error["message"]
    assert f"--user {who}" in error["message"]
    assert threats.snapshot(KIND) == (events + 1, counter + 1)
    assert privileged_state() == before


@pytest.mark.parametrize("who", PRIVILEGED)
def test_a_token_bound_to_the_privileged_identity_may_act_as_it(
    gateway, issue, privileged_state, who
):
    """The control: the writes refused above do change these partitions."""
    bound = issue(user_id=who)
    before = privileged_state()
    for route in ("create-by-body", "update", "cache-put"):
        response = ATTEMPTS[route](gateway, bound, who)
        assert response.status_code in (200, 201, 204), (route, response.content)
    after = privileged_state()
    assert len(after["documents"]) == len(before["documents"]) + 1
    assert len(after["cache"]) == len(before["cache"]) + 1
    assert after["audit"] == before["audit"] + 2


def test_an_extension_wide_token_still_acts_for_ordinary_users(gateway, wide_token):
    response = ATTEMPTS["create-by-header"](gateway, wide_token, "alice")
    assert response.status_code == 201, response.content
    assert store().count(Partition(TENANT, APP, "alice"), "notes") == 1
