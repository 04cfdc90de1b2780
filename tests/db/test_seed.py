"""The seed's fetch_spend_report, verbatim, through the real invocation path."""

import io
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command

from apps.db.face import DbFace
from apps.extensions.invocation import prepare_tool

from .conftest import execute, run


def call(tool, user, **params):
    return async_to_sync(prepare_tool("my-app", tool, user, params).run)()


@pytest.fixture
def my_app(use_extensions, alice, bob, charlie):
    use_extensions("extensions/my_app")
    call_command("migrate_extensions", "my-app", stdout=io.StringIO())
    spends = [
        ("alice", "search", 5, 1, 10.25),
        ("alice", "search", 5, 2, 20.00),
        ("alice", "social", 5, 1, 40.50),
        ("alice", "video", 5, 3, 1.00),
        ("alice", "search", 6, 1, 500.00),  # another month
        ("bob", "search", 5, 1, 999.00),  # another user, same campaign and month
        ("bob", "display", 5, 1, 7.00),
    ]
    for user, campaign, month, day, spend in spends:
        call(
            "record_spend",
            user,
            campaign_id=campaign,
            year=2026,
            month=month,
            day=day,
            spend=spend,
        )


def totals(result):
    return [(row["campaign_id"], Decimal(str(row["total"]))) for row in result["rows"]]


def test_the_report_sums_the_calling_users_month_only(my_app):
    result = call("fetch_spend_report", "alice", year=2026, month=5)
    assert result["status"] == "success"
    assert totals(result) == [
        ("social", Decimal("40.5")),
        ("search", Decimal("30.25")),
        ("video", Decimal("1")),
    ]
    bob = call("fetch_spend_report", "bob", year=2026, month=5)
    assert totals(bob) == [("search", Decimal("999")), ("display", Decimal("7"))]


def test_the_outsider_sees_nothing(my_app):
    assert call("fetch_spend_report", "charlie", year=2026, month=5)["rows"] == []


def test_the_rows_are_stored_per_user_in_the_extensions_own_table(my_app):
    stored = run(
        execute,
        DbFace("my-app"),
        "SELECT user_id, COUNT(*) AS n FROM ad_spend GROUP BY user_id ORDER BY user_id",
    )
    assert [(r["user_id"], r["n"]) for r in stored] == [("alice", 5), ("bob", 2)]
