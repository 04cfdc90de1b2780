"""The usage page of one extension: its users ranked by a counted figure, every figure
beside it, the limits, and the daily totals drawn as charts; quotas.view_usage only."""

import datetime

import pytest

from apps.quotas import counters

from .conftest import APP, partition

VIEW = "quotas.view_usage"
URL = f"/admin/console/usage/{APP}/"


@pytest.mark.django_db
def test_the_page_ranks_users_and_shows_every_figure(operator, stored, settings):
    settings.IMPERAL_QUOTAS = {APP: {"store.documents": 100, "egress.calls": 60}}
    counters.add("egress.calls", partition("bob"), 7)
    client = operator("olga", VIEW)

    page = client.get(URL)

    assert page.status_code == 200
    html = page.content.decode()
    rows = page.context["rows"]
    assert [row[0] for row in rows] == ["alice", "bob"]  # by documents
    assert rows[0][1:4] == [4, rows[0][2], 2]  # documents, bytes, cache entries
    assert rows[0][2] > 0
    assert rows[1][6] == 7  # bob's calls today
    assert "100" in html and "60 per minute" in html
    assert html.count('<svg class="ops-chart"') == 2
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert page.context["days"][-1]["day"] == today
    assert page.context["days"][-1]["egress.calls"] == 7

    by_calls = client.get(URL, {"by": "egress.calls"}).context["rows"]
    assert [row[0] for row in by_calls] == ["bob"]


@pytest.mark.django_db
def test_a_bad_ranking_is_a_400_naming_the_choices(operator, stored):
    page = operator("olga", VIEW).get(URL, {"by": "mood"})
    assert page.status_code == 400
    assert "by is one of documents, bytes" in page.content.decode()


@pytest.mark.django_db
def test_the_page_needs_the_usage_permission(operator):
    page = operator("olga", "store.view_document").get(URL)
    assert page.status_code == 403
    assert VIEW in page.content.decode()


@pytest.mark.django_db
def test_an_unknown_extension_is_a_404(operator):
    assert operator("olga", VIEW).get("/admin/console/usage/nope/").status_code == 404
