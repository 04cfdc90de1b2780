"""A user's notifications: listed newest first by keyset, marked read, never another's."""

import base64
import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.notifications.core import (
    LIST_LIMIT_MAX,
    NotificationError,
    NotificationNotFound,
    list_notifications,
    mark_all_read,
    mark_read,
)
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)


def notify(user, message, *, app_id="probe", tenant_id="default", at=None):
    """Store one notification for ``user`` as of ``at``; return it."""
    note = Notification.objects.create(
        tenant_id=tenant_id, app_id=app_id, user_id=user, message=message
    )
    if at is not None:  # created_at is auto_now_add: move it afterwards
        Notification.objects.filter(pk=note.pk).update(created_at=at)
        note.refresh_from_db()
    return note


def read_state():
    """Return {id: read_at} of every stored notification."""
    return dict(Notification.objects.values_list("id", "read_at"))


def all_pages(tenant_id, user_id, **kwargs):
    """Return the ids of every page, following cursors, and the pages' sizes."""
    ids, sizes, after = [], [], None
    while True:
        page = list_notifications(tenant_id, user_id, after=after, **kwargs)
        ids += [note.id for note in page]
        sizes.append(len(page))
        if not page.has_more:
            assert page.cursor is None
            return ids, sizes
        after = page.cursor


@pytest.fixture
def inboxes(alice, bob, charlie):
    """alice has five notifications (two share a time), bob one, charlie none."""
    notes = {
        "a1": notify("alice", "a1", at=T0),
        "a2": notify("alice", "a2", at=T0 + datetime.timedelta(seconds=1)),
        "a3": notify("alice", "a3", at=T0 + datetime.timedelta(seconds=1)),
        "a4": notify("alice", "a4", app_id="other", at=T0 + datetime.timedelta(3)),
        "a5": notify("alice", "a5", at=T0 + datetime.timedelta(seconds=2)),
        "b1": notify("bob", "b1", at=T0 + datetime.timedelta(seconds=5)),
    }
    return notes


def newest_first(*notes):
    return [
        n.id for n in sorted(notes, key=lambda n: (n.created_at, n.id), reverse=True)
    ]


# --- list_notifications ----------------------------------------------------------


def test_a_user_lists_their_own_notifications_newest_first(inboxes):
    page = list_notifications("default", "alice")
    alices = [v for k, v in inboxes.items() if k.startswith("a")]
    assert [n.id for n in page] == newest_first(*alices)
    assert [n.message for n in page][:2] == ["a4", "a5"]
    assert (page.has_more, page.cursor) == (False, None)


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_pages_follow_each_other_without_gap_or_repeat(inboxes, limit):
    ids, sizes = all_pages("default", "alice", limit=limit)
    alices = [v for k, v in inboxes.items() if k.startswith("a")]
    assert ids == newest_first(*alices)
    assert all(size == limit for size in sizes[:-1])


def test_a_notification_arriving_between_pages_does_not_shift_the_next(inboxes):
    first = list_notifications("default", "alice", limit=2)
    notify("alice", "late", at=T0 + datetime.timedelta(days=9))
    second = list_notifications("default", "alice", limit=2, after=first.cursor)
    rest = list_notifications("default", "alice", limit=2, after=second.cursor)
    seen = [n.message for n in (*first, *second, *rest)]
    assert seen == ["a4", "a5", "a3", "a2", "a1"]
    assert list_notifications("default", "alice").data[0].message == "late"


def test_unread_only_leaves_out_the_read_ones(inboxes):
    mark_read("default", "alice", inboxes["a5"].id)
    page = list_notifications("default", "alice", unread_only=True)
    assert "a5" not in [n.message for n in page]
    assert len(page) == 4


def test_the_outsider_and_the_collaborator_see_only_their_own(inboxes):
    assert list_notifications("default", "charlie").data == []
    assert [n.message for n in list_notifications("default", "bob")] == ["b1"]


def test_the_same_user_id_in_another_tenant_sees_nothing(inboxes):
    notify("alice", "elsewhere", tenant_id="acme")
    assert [n.message for n in list_notifications("acme", "alice")] == ["elsewhere"]
    assert "elsewhere" not in [
        n.message for n in list_notifications("default", "alice")
    ]


def test_another_users_cursor_only_pages_through_your_own(inboxes):
    alices_cursor = list_notifications("default", "alice", limit=1).cursor
    page = list_notifications("default", "bob", after=alices_cursor)
    assert all(n.user_id == "bob" for n in page)


@pytest.mark.parametrize("limit", [0, -1, LIST_LIMIT_MAX + 1, "10", 2.0, True, None])
def test_a_bad_limit_is_refused_naming_the_rule(inboxes, limit):
    with pytest.raises(
        ValueError, match=f"limit must be an integer 1-{LIST_LIMIT_MAX}"
    ):
        list_notifications("default", "alice", limit=limit)


def _cursor(payload):
    text = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "x" * 500,
        12,
        _cursor([1, T0.isoformat()]),
        _cursor([2, T0.isoformat(), 5]),
        _cursor([1, "2026-03-01T12:00:00", 5]),  # no time zone
        _cursor([1, "yesterday", 5]),
        _cursor([1, T0.isoformat(), 0]),
        _cursor([1, T0.isoformat(), "5"]),
        _cursor({"id": 5}),
    ],
)
def test_a_cursor_list_notifications_did_not_make_is_refused(inboxes, cursor):
    with pytest.raises(ValueError, match="after must be the cursor of a list_notif"):
        list_notifications("default", "alice", after=cursor)


@pytest.mark.parametrize("owner", [("", "alice"), ("default", ""), ("default", None)])
def test_an_empty_owner_is_refused(owner):
    with pytest.raises(ValueError, match="must be a non-empty string"):
        list_notifications(*owner)


# --- mark_read ---------------------------------------------------------------------


def test_marking_ones_own_notification_read_changes_it_once(inboxes):
    note = inboxes["a2"]
    before = timezone.now()
    assert mark_read("default", "alice", note.id) is True
    note.refresh_from_db()
    assert note.read_at >= before
    first_read = note.read_at
    assert mark_read("default", "alice", str(note.id)) is False
    note.refresh_from_db()
    assert note.read_at == first_read
    unread = {n for n, v in read_state().items() if v is None}
    assert unread == {v.id for k, v in inboxes.items() if k != "a2"}


def test_the_outsider_cannot_mark_another_users_notification(inboxes):
    before = read_state()
    bobs = inboxes["b1"].id
    with pytest.raises(NotificationNotFound) as outsider:
        mark_read("default", "charlie", bobs)
    missing_id = max(before) + 1000
    with pytest.raises(NotificationNotFound) as missing:
        mark_read("default", "charlie", missing_id)
    assert read_state() == before
    # The same answer as a missing id: nothing says the notification exists.
    assert str(outsider.value).replace(str(bobs), "ID") == str(missing.value).replace(
        str(missing_id), "ID"
    )
    assert outsider.value.code == missing.value.code == "not_found"
    assert outsider.value.status == 404
    assert isinstance(outsider.value, NotificationError)


def test_the_same_user_id_in_another_tenant_cannot_mark_it(inboxes):
    before = read_state()
    with pytest.raises(NotificationNotFound):
        mark_read("acme", "alice", inboxes["a1"].id)
    assert read_state() == before


@pytest.mark.parametrize("notification_id", [0, -3, "abc", "1.5", 2**63, True, None])
def test_a_malformed_id_is_refused_and_nothing_changes(inboxes, notification_id):
    before = read_state()
    with pytest.raises(ValueError, match="notification_id must be an integer"):
        mark_read("default", "alice", notification_id)
    assert read_state() == before


# --- mark_all_read ----------------------------------------------------------------


def test_mark_all_read_marks_the_users_unread_in_one_update(
    inboxes, django_assert_num_queries
):
    mark_read("default", "alice", inboxes["a1"].id)
    already = Notification.objects.get(pk=inboxes["a1"].id).read_at
    with django_assert_num_queries(1):
        assert mark_all_read("default", "alice") == 4
    state = read_state()
    assert state[inboxes["a1"].id] == already  # read_at set only where null
    assert all(state[v.id] is not None for k, v in inboxes.items() if k != "b1")
    assert state[inboxes["b1"].id] is None
    assert mark_all_read("default", "alice") == 0


def test_mark_all_read_of_one_extension_leaves_the_others(inboxes):
    assert mark_all_read("default", "alice", app_id="other") == 1
    unread = {n for n, v in read_state().items() if v is None}
    assert unread == {v.id for k, v in inboxes.items() if k != "a4"}


def test_the_outsider_marking_all_read_changes_nobody_elses(inboxes):
    before = read_state()
    assert mark_all_read("default", "charlie") == 0
    assert mark_all_read("acme", "alice") == 0
    assert read_state() == before


@pytest.mark.parametrize("app_id", ["", 5])
def test_mark_all_read_with_a_bad_app_id_changes_nothing(inboxes, app_id):
    before = read_state()
    with pytest.raises(ValueError, match="app_id must be a non-empty string"):
        mark_all_read("default", "alice", app_id=app_id)
    assert read_state() == before


# --- the partition rule -------------------------------------------------------------

_WHERE = re.compile(r"\bWHERE\s+\(?\s*(.+)", re.S)


def test_every_query_filters_by_tenant_and_user_first(inboxes):
    with CaptureQueriesContext(connection) as queries:
        page = list_notifications("default", "alice", limit=1, unread_only=True)
        list_notifications("default", "alice", after=page.cursor)
        mark_read("default", "alice", inboxes["a1"].id)
        mark_read("default", "alice", inboxes["a1"].id)
        mark_all_read("default", "alice", app_id="other")
    assert len(queries) >= 5
    for query in queries:
        conditions = _WHERE.search(query["sql"]).group(1)
        first, second = re.split(r"\s+AND\s+", conditions)[:2]
        assert '"tenant_id"' in first, query["sql"]
        assert '"user_id"' in second, query["sql"]
