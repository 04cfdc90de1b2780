"""IMPERAL_QUOTAS is validated whole at start, every error naming its key; the most
specific limit wins, and at one level the admin's row wins over the setting."""

import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from apps.accounts.partition import Partition
from apps.quotas import config, limits
from apps.quotas.models import QuotaLimit


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("{not json", "IMPERAL_QUOTAS is not JSON"),
        ("[1, 2]", "must be a JSON object of extension id"),
        ({"Bad_App": {}}, "IMPERAL_QUOTAS['Bad_App']: an extension id matches"),
        ({"notes": []}, "IMPERAL_QUOTAS['notes'] must be a JSON object"),
        (
            {"notes": {"store.docs": 5}},
            "IMPERAL_QUOTAS['notes']['store.docs']: a quota kind is one of",
        ),
        ({"notes": {"store.documents": -1}}, "['store.documents']: a limit is"),
        ({"notes": {"store.documents": True}}, "['store.documents']: a limit is"),
        ({"notes": {"store.documents": 1.5}}, "['store.documents']: a limit is"),
        (
            {"notes": {"users": {"a/b": {"store.documents": 1}}}},
            "IMPERAL_QUOTAS['notes']['users']['a/b']: not a valid user id",
        ),
        (
            {"notes": {"users": {"bob": {"ai.tokens": "lots"}}}},
            "IMPERAL_QUOTAS['notes']['users']['bob']['ai.tokens']: a limit is",
        ),
        ({"*": {"users": {"bob": {}}}}, "IMPERAL_QUOTAS['*']['users']: a user's own"),
    ],
)
def test_a_malformed_setting_is_refused_naming_the_key(value, named):
    with pytest.raises(ImproperlyConfigured) as refused:
        config.parse(value)
    assert named in str(refused.value)


def test_a_malformed_setting_stops_the_start(settings):
    settings.IMPERAL_QUOTAS = '{"notes": {"store.bytes": "10MB"}}'
    with pytest.raises(ImproperlyConfigured, match=r"\['store.bytes'\]"):
        limits.configured()


def test_json_text_and_a_dict_mean_the_same():
    text = '{"notes": {"store.documents": 5, "users": {"bob": {"ai.tokens": null}}}}'
    parsed = config.parse(text)
    assert parsed == config.parse(
        {"notes": {"store.documents": 5, "users": {"bob": {"ai.tokens": None}}}}
    )
    assert parsed.entries(("notes", "bob")) == {"ai.tokens": None}
    assert config.parse("").values == {} and config.parse(None).values == {}


def part(user="alice", app="notes"):
    return Partition("default", app, user)


@pytest.mark.django_db
def test_the_most_specific_limit_wins(settings):
    settings.IMPERAL_QUOTAS = {
        "*": {"store.documents": 1, "ai.tokens": 7},
        "notes": {"store.documents": 10, "users": {"bob": {"store.documents": None}}},
    }
    assert limits.limit_for(part(), "store.documents") == 10
    assert limits.limit_for(part("bob"), "store.documents") is None  # null: none
    assert limits.limit_for(part(app="crm"), "store.documents") == 1
    assert limits.limit_for(part(), "ai.tokens") == 7
    assert limits.limit_for(part(), "files.bytes") is None


@pytest.mark.django_db
def test_the_admins_row_wins_over_the_setting_at_its_level(settings):
    settings.IMPERAL_QUOTAS = {
        "notes": {"store.documents": 10, "users": {"bob": {"store.documents": 20}}}
    }
    QuotaLimit.objects.create(app_id="notes", kind="store.documents", value=3)

    assert limits.limit_for(part(), "store.documents") == 3  # admin, app level
    assert limits.limit_for(part("bob"), "store.documents") == 20  # user level wins

    QuotaLimit.objects.create(
        app_id="notes", kind="store.documents", user_id="bob", value=5
    )
    assert limits.limit_for(part("bob"), "store.documents") == 5
    QuotaLimit.objects.filter(user_id="bob").delete()  # seen at once in this process
    assert limits.limit_for(part("bob"), "store.documents") == 20


@pytest.mark.django_db
def test_the_admins_rows_are_reread_after_refresh_seconds(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(limits.table, "clock", lambda: now[0])
    limits.forget()
    assert limits.limit_for(part(), "ai.tokens") is None
    QuotaLimit.objects.bulk_create(  # no signal: as another process would write
        [QuotaLimit(app_id="notes", kind="ai.tokens", value=100)]
    )
    assert limits.limit_for(part(), "ai.tokens") is None  # the held copy
    now[0] += limits.table.refresh_seconds
    assert limits.limit_for(part(), "ai.tokens") == 100


@pytest.mark.django_db
def test_an_admin_row_is_validated_before_it_is_saved():
    from django.core.exceptions import ValidationError

    row = QuotaLimit(app_id="*", kind="store.bytes", user_id="bob", value=-5)
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert set(refused.value.message_dict) == {"value", "user_id"}
    assert not QuotaLimit.objects.exists()


@pytest.mark.slow
def test_the_platform_will_not_start_on_a_malformed_quota(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=django_settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "IMPERAL_VAR_DIR": str(tmp_path),
            "IMPERAL_TEST_ALLOW_HOSTS": "127.0.0.1,::1",
            "IMPERAL_QUOTAS": '{"notes": {"users": {"bob": {"ai.tokens": -3}}}}',
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "IMPERAL_QUOTAS['notes']['users']['bob']['ai.tokens']" in result.stderr
