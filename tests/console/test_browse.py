"""The partition browser through Django's test client: who gets in, what each page
shows, and bad input named on the page."""

import re

import pytest
from django.urls import reverse

from apps.store.models import Document

from .conftest import APP, VIEW

pytestmark = pytest.mark.django_db


def test_non_staff_never_reach_the_console(operator, stored):
    client = operator("mallory", VIEW, staff=False)
    response = client.get(reverse("console:users", args=[APP]))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_without_view_permission_are_refused_by_name(operator, stored):
    client = operator("sam")
    for url in (
        reverse("console:extensions"),
        reverse("console:partition", args=[APP, "alice"]),
        reverse("console:document", args=[APP, "alice", "notes", "n0"]),
    ):
        response = client.get(url)
        assert response.status_code == 403
        assert b"store.view_document" in response.content
        assert b'{"status"' not in response.content


def test_drill_from_extension_to_document(operator, stored):
    client = operator("olga", VIEW)
    page = client.get(reverse("console:extensions")).content.decode()
    assert APP in page and re.search(r">2</td><td class=\"num\">5<", page)

    page = client.get(reverse("console:users", args=[APP])).content.decode()
    assert page.index(">alice<") < page.index(">bob<")
    alice_row = page[page.index(">alice<") :].split("</tr>")[0]
    cells = re.findall(r'<td class="num">(.*?)</td>', alice_row, re.S)
    assert cells[:2] == ["4", "2"] and "UTC" in cells[2]
    assert ">2</a>" in cells[3]  # cache entries, linking to the inspector

    page = client.get(reverse("console:partition", args=[APP, "alice"])).content
    assert b">notes</a>" in page and b">tags</a>" in page

    url = reverse("console:document", args=[APP, "alice", "notes", "n1"])
    page = client.get(url).content.decode()
    assert '<span class="j-key">&quot;status&quot;</span>' in page
    assert '<span class="j-str">&quot;done&quot;</span>' in page
    doc = Document.objects.get(user_id="alice", doc_id="n1")
    assert doc.etag in page
    assert re.search(
        r'<td class="when">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td><td>create</td>', page
    )
    assert "?edit=1" not in page and "Delete…" not in page  # read-only


def test_users_sort_search_and_pages(operator, stored):
    client = operator("olga", VIEW)
    url = reverse("console:users", args=[APP])
    page = client.get(url, {"sort": "-documents"}).content.decode()
    assert page.index(">alice<") < page.index(">bob<")
    page = client.get(url, {"sort": "documents"}).content.decode()
    assert page.index(">bob<") < page.index(">alice<")
    page = client.get(url, {"q": "BO"}).content.decode()
    assert ">bob<" in page and ">alice<" not in page


def test_bad_sort_or_cursor_is_named_on_the_page(operator, stored):
    client = operator("olga", VIEW)
    url = reverse("console:users", args=[APP])
    response = client.get(url, {"sort": "size"})
    assert response.status_code == 400
    assert b"sort must be one of" in response.content
    response = client.get(url, {"cursor": "forged"})
    assert response.status_code == 400
    assert b"is not one a page of users returned" in response.content


def test_filter_a_collection_with_where(operator, stored):
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "alice", "notes"])
    page = client.get(url, {"where": '{"status": "open"}'}).content.decode()
    assert ">n0</a>" in page and ">n2</a>" in page and ">n1</a>" not in page
    page = client.get(url, {"order_by": "-id", "limit": "25"}).content.decode()
    assert page.index(">n2</a>") < page.index(">n0</a>")


@pytest.mark.parametrize(
    "where, message",
    [
        ("{not json", "where must be a JSON object"),
        ('{"n": {"$near": 1}}', "$near"),
        ('["status"]', "where"),
    ],
)
def test_bad_where_is_shown_and_changes_nothing(operator, stored, where, message):
    before = list(Document.objects.values_list("doc_id", "etag").order_by("doc_id"))
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "alice", "notes"])
    response = client.get(url, {"where": where})
    assert response.status_code == 400
    assert message.encode() in response.content
    assert b"Traceback" not in response.content
    after = list(Document.objects.values_list("doc_id", "etag").order_by("doc_id"))
    assert after == before


def test_pages_by_keyset(operator, stored):
    store = stored
    from .conftest import partition

    for n in range(30):
        store.create(partition("carol"), "user", "notes", {"doc_id": f"c{n:02d}"})
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "carol", "notes"])
    first = client.get(url, {"order_by": "id"}).content.decode()
    assert ">c00</a>" in first and ">c24</a>" in first and ">c25</a>" not in first
    cursor = re.search(r"cursor=([^\"&]+)", first).group(1)
    second = client.get(url + f"?order_by=id&limit=25&cursor={cursor}").content
    assert b">c25</a>" in second and b">c29</a>" in second and b">c00</a>" not in second


def test_unknown_extension_or_document_is_404(operator, stored):
    client = operator("olga", VIEW)
    assert client.get(reverse("console:users", args=["nope"])).status_code == 404
    url = reverse("console:document", args=[APP, "alice", "notes", "missing"])
    assert client.get(url).status_code == 404


def test_admin_rows_link_to_their_console_pages(operator, stored):
    from apps.store.partitions import Partitions

    from .conftest import partition

    Partitions().erase(partition("bob"), "operator", operator="olga")
    client = operator("olga", VIEW, "store.view_auditentry")
    page = client.get("/admin/store/auditentry/", {"app_id": APP}).content.decode()
    doc_url = reverse("console:document", args=[APP, "alice", "notes", "n1"])
    assert f'<a href="{doc_url}">n1</a>' in page
    whole = reverse("console:partition", args=[APP, "bob"])
    assert f'<a href="{whole}">whole partition</a>' in page
    page = client.get("/admin/store/document/").content.decode()
    assert f'<a href="{doc_url}">open</a>' in page


def test_document_json_is_escaped_not_run(operator, stored):
    from .conftest import partition

    hostile = {"<b>key</b>": '</pre><script>alert("x")</script>', "q": 'a"b\\c'}
    stored.create(partition("alice"), "user", "notes", {"doc_id": "h", **hostile})
    client = operator("olga", VIEW)
    page = client.get(reverse("console:document", args=[APP, "alice", "notes", "h"]))
    text = page.content.decode()
    assert "<script>alert" not in text and "<b>key</b>" not in text
    assert "&lt;/pre&gt;&lt;script&gt;alert(\\&quot;x\\&quot;)" in text
    assert '<span class="j-str">&quot;a\\&quot;b\\\\c&quot;</span>' in text


def test_the_console_root_opens_the_partition_browser(operator, stored):
    response = operator("olga", VIEW).get("/admin/console/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("console:extensions")
    assert APP.encode() in response.content


def _ids(page):
    """Return the document ids of a documents page, in order."""
    return re.findall(r'<td class="wrap"><a href="[^"]+">([^<]+)</a>', page)


@pytest.fixture
def ticking_clock(monkeypatch):
    """Make every store write one millisecond later than the previous one."""
    import datetime
    import itertools

    from apps.store.core import Operations

    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    ticks = itertools.count()
    later = staticmethod(lambda: start + datetime.timedelta(milliseconds=next(ticks)))
    monkeypatch.setattr(Operations, "clock", later)


@pytest.fixture
def thirty(stored, ticking_clock):
    """carol: notes c00..c29, created in that order; c05 then written last."""
    from .conftest import partition

    for n in range(30):
        stored.create(
            partition("carol"), "user", "notes", {"doc_id": f"c{n:02d}", "n": n}
        )
    stored.update(partition("carol"), "user", "notes", "c05", {"n": 105})
    return stored


def test_documents_list_newest_write_first_with_counts(operator, thirty):
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "carol", "notes"])
    page = client.get(url).content.decode()
    assert _ids(page)[:3] == ["c05", "c29", "c28"]
    assert "30 documents in notes." in page
    assert 'value="-updated_at"' in page  # the order in force, not a placeholder
    assert '<th scope="col">Created</th>' not in page  # headers are sort links
    filtered = client.get(url, {"where": '{"n": {"$lt": 3}}'}).content.decode()
    assert sorted(_ids(filtered)) == ["c00", "c01", "c02"]
    assert "30 documents in notes; the filter matches 3." in filtered


def test_sort_links_toggle_the_order(operator, thirty):
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "carol", "notes"])
    page = client.get(url, {"order_by": "id"}).content.decode()
    assert _ids(page)[:2] == ["c00", "c01"]
    header = re.search(r'<a href="([^"]+)">Document</a> ▲', page)
    toggled = client.get(url + header.group(1).replace("&amp;", "&")).content.decode()
    assert _ids(toggled)[:2] == ["c29", "c28"]
    assert "Document</a> ▼" in toggled


def _link(page, rel):
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page)
    return found and found.group(1).replace("&amp;", "&")


def test_documents_page_forward_and_back_by_keyset(operator, thirty):
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "carol", "notes"])
    first = client.get(url, {"order_by": "id", "limit": "25"}).content.decode()
    assert _ids(first) == [f"c{n:02d}" for n in range(25)]
    assert _link(first, "prev") is None
    second = client.get(url + _link(first, "next")).content.decode()
    assert _ids(second) == [f"c{n:02d}" for n in range(25, 30)]
    assert _link(second, "next") is None
    back = client.get(url + _link(second, "prev")).content.decode()
    assert _ids(back) == _ids(first) and _link(back, "prev") is None


def test_the_filter_row_builds_the_where_the_box_takes(operator, thirty):
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "carol", "notes"])
    page = client.get(url, {"field": "n", "op": "$gte", "value": "28"}).content
    page = page.decode()
    assert sorted(_ids(page)) == ["c05", "c28", "c29"]
    assert "{&quot;n&quot;: {&quot;$gte&quot;: 28}}</textarea>" in page
    listed = client.get(url, {"field": "n", "op": "$in", "value": "1, 2"}).content
    assert sorted(_ids(listed.decode())) == ["c01", "c02"]
    text = client.get(url, {"field": "missing", "op": "$exists", "value": "false"})
    assert len(_ids(text.content.decode())) == 25


@pytest.mark.parametrize(
    "params, message",
    [
        ({"value": "open"}, "filter row: name the field"),
        ({"field": "a b\x01", "value": "1"}, "filter row field"),
        ({"field": "n", "op": "$near", "value": "1"}, "operator must be one of"),
        ({"field": "n", "op": "$exists", "value": "maybe"}, "$exists takes true"),
        ({"field": "n", "op": "$gt", "value": "[1]"}, "takes a number or a string"),
        ({"field": "n", "where": '{"n": 1}', "value": "2"}, "already tests"),
    ],
)
def test_a_bad_filter_row_is_named(operator, thirty, params, message):
    client = operator("olga", VIEW)
    url = reverse("console:documents", args=[APP, "carol", "notes"])
    response = client.get(url, params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_users_page_forward_and_back(operator, stored):
    from .conftest import partition

    for n in range(60):
        stored.create(partition(f"u{n:02d}"), "user", "notes", {"n": n})
    client = operator("olga", VIEW)
    url = reverse("console:users", args=[APP])
    first = client.get(url).content.decode()
    assert "62 users hold documents in console-probe" in first
    assert _link(first, "prev") is None
    second = client.get(url + _link(first, "next")).content.decode()
    assert ">u59<" in second and ">u00<" not in second
    back = client.get(url + _link(second, "prev")).content.decode()
    users = re.findall(r'/partitions/console-probe/([^/]+)/">', first)
    assert re.findall(r'/partitions/console-probe/([^/]+)/">', back) == users
    assert "User id contains" in first and "upper or lower case alike" in first


@pytest.mark.parametrize(
    "route, args, message, back",
    [
        ("users", ["nope"], "No extension &#x27;nope&#x27;", "console:extensions"),
        ("documents", [APP, "alice", "ghosts"], "alice holds no documents in "
         "collection &#x27;ghosts&#x27;", "console:partition"),
        ("document", [APP, "alice", "notes", "missing"], "No document notes/missing",
         "console:documents"),
        ("documents", [APP, "nobody", "notes"], "nobody holds no documents",
         "console:users"),
    ],
)  # fmt: skip
def test_unknown_pages_are_styled_404s_with_a_way_back(
    operator, stored, route, args, message, back
):
    client = operator("olga", VIEW)
    response = client.get(reverse(f"console:{route}", args=args))
    assert response.status_code == 404
    page = response.content.decode()
    assert message in page and 'role="alert"' in page
    back_args = {"console:extensions": [], "console:users": [APP]}.get(
        back, [APP, "alice"] + (["notes"] if back == "console:documents" else [])
    )
    assert f'class="button" href="{reverse(back, args=back_args)}"' in page
    assert 'id="nav-sidebar"' in page or "console-nav" in page  # the admin's chrome
