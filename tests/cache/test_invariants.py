"""The seed's federal invariants: every caller mistake raises before any backend call."""

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from apps.cache.core import get_core
from apps.cache.validation import PydanticOnlyError
from tests.fixtures.extensions.cache_probe import (
    DashboardView,
    Note,
    RegisteredSubclass,
    ResourceSummary,
    Unregistered,
)

from .conftest import context, partition

SUMMARY = ResourceSummary(total=3, active=2, last_id="doc_1")
KEY_RULE = "I-CACHE-KEY-SAFETY"
TTL_RULE = "I-CACHE-TTL-CAP-300S"
PYDANTIC_RULE = "I-CACHE-PYDANTIC-ONLY"
REGISTRATION_RULE = "I-CACHE-MODEL-REGISTRATION-REQUIRED"
SIZE_RULE = "I-CACHE-VALUE-SIZE-CAP-64KB"


async def _never_called():
    raise AssertionError("the fetcher must not run when the call is refused")


def set_(key="k", value=SUMMARY, ttl=60):
    return lambda cache: cache.set(key, value, ttl_seconds=ttl)


def get(key="k", model=ResourceSummary):
    return lambda cache: cache.get(key, model)


def fetch(key="k", model=DashboardView, fetcher=_never_called, ttl=60):
    return lambda cache: cache.get_or_fetch(key, model, fetcher, ttl_seconds=ttl)


def delete(key):
    return lambda cache: cache.delete(key)


# (id, call, exception type, fragments of the message)
BAD_INPUT = [
    ("empty-key", set_(key=""), ValueError, ["non-empty string", KEY_RULE]),
    ("none-key", get(key=None), ValueError, ["non-empty string", KEY_RULE]),
    ("int-key", delete(42), ValueError, ["non-empty string", KEY_RULE]),
    (
        "space-in-key",
        set_(key="my key"),
        ValueError,
        ["forbidden characters", KEY_RULE],
    ),
    ("slash-in-key", get(key="a/b/c"), ValueError, ["forbidden characters", KEY_RULE]),
    ("newline-key", set_(key="summary\n"), ValueError, ["forbidden characters"]),
    ("unicode-key", get(key="ключ"), ValueError, ["forbidden characters", KEY_RULE]),
    ("glob-key", delete("a*"), ValueError, ["forbidden characters", KEY_RULE]),
    (
        "129-char-key",
        set_(key="k" * 129),
        ValueError,
        ["too long: 129 > 128", KEY_RULE],
    ),
    ("ttl-4", set_(ttl=4), ValueError, ["must be in [5, 300], got 4", TTL_RULE]),
    ("ttl-301", set_(ttl=301), ValueError, ["got 301", TTL_RULE]),
    ("ttl-0-fetch", fetch(ttl=0), ValueError, ["got 0", TTL_RULE]),
    ("ttl-bool", set_(ttl=True), ValueError, ["must be an int", "bool", TTL_RULE]),
    ("ttl-float", set_(ttl=60.0), ValueError, ["must be an int", "float", TTL_RULE]),
    ("ttl-str", fetch(ttl="60"), ValueError, ["must be an int", "str", TTL_RULE]),
    ("ttl-none", set_(ttl=None), ValueError, ["must be an int", TTL_RULE]),
    ("dict-value", set_(value={"total": 1}), PydanticOnlyError, ["instance", "dict"]),
    ("str-value", set_(value="text"), PydanticOnlyError, ["instance", "str"]),
    ("class-as-value", set_(value=ResourceSummary), PydanticOnlyError, ["instance"]),
    ("dict-model", get(model=dict), PydanticOnlyError, ["subclass", "class dict"]),
    ("instance-as-model", get(model=SUMMARY), PydanticOnlyError, ["subclass"]),
    ("dict-model-fetch", fetch(model=dict), PydanticOnlyError, ["subclass"]),
    (
        "unregistered-value",
        set_(value=Unregistered(text="x")),
        ValueError,
        ["'Unregistered' is not registered", REGISTRATION_RULE],
    ),
    (
        "unregistered-model",
        get(model=Unregistered),
        ValueError,
        ["not registered", REGISTRATION_RULE],
    ),
    (
        "subclass-of-registered",
        set_(value=RegisteredSubclass(total=1, active=1, last_id="")),
        ValueError,
        ["'RegisteredSubclass' is not registered", REGISTRATION_RULE],
    ),
    ("unregistered-fetch", fetch(model=Unregistered), ValueError, [REGISTRATION_RULE]),
    (
        "over-64kb",
        set_(value=Note(text="x" * 65_536)),
        ValueError,
        ["too large:", "> 65536 bytes", SIZE_RULE],
    ),
    (
        "fetcher-not-callable",
        fetch(fetcher="not callable"),
        TypeError,
        ["fetcher must be a callable"],
    ),
]


@pytest.mark.parametrize(
    "call, error, fragments",
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT],
)
def test_bad_input_raises_before_any_backend_call(
    core, ext, calls, call, error, fragments
):
    cache = context(ext, "alice").cache

    async def invoke():
        return await call(cache)

    with pytest.raises(error) as caught:
        async_to_sync(invoke)()
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert calls == []
    assert core.list_entries(partition("alice")) == []


def test_the_bad_input_table_has_at_least_fifteen_cases():
    assert len(BAD_INPUT) >= 15


def test_the_pydantic_only_error_is_both_a_type_error_and_a_value_error(core, ext):
    cache = context(ext, "alice").cache
    for expected in (TypeError, ValueError):
        with pytest.raises(expected, match=PYDANTIC_RULE):
            async_to_sync(cache.set)("k", {"total": 1})


def test_a_fetcher_returning_another_type_raises_and_writes_nothing(core, ext, calls):
    async def fetcher():
        return {"spend_today": 0}

    cache = context(ext, "alice").cache
    with pytest.raises(
        PydanticOnlyError, match="fetcher returned dict, expected DashboardView"
    ):
        async_to_sync(cache.get_or_fetch)("k", DashboardView, fetcher)
    assert [op for op, _ in calls] == ["get"]
    assert core.list_entries(partition("alice")) == []


@pytest.mark.parametrize(
    "key",
    ["inbox:user_at_example_com:INBOX", "dashboard", "summary:v2", "a", "K" * 128],
)
def test_the_seeds_good_keys_and_the_limits_are_accepted(core, ext, key):
    cache = context(ext, "alice").cache
    async_to_sync(cache.set)(key, SUMMARY, ttl_seconds=5)
    async_to_sync(cache.set)(key, SUMMARY, ttl_seconds=300)
    assert async_to_sync(cache.get)(key, ResourceSummary) == SUMMARY


def test_a_context_built_without_a_cache_backend_raises_runtime_error(settings, ext):
    settings.IMPERAL_CACHE = None
    ctx = context(ext, "alice")
    with pytest.raises(RuntimeError, match="without a cache backend"):
        _ = ctx.cache
    assert "I-CACHE-GW-URL-DERIVE" in _message_of(lambda: ctx.cache)


def _message_of(func):
    try:
        func()
    except RuntimeError as exc:
        return str(exc)
    raise AssertionError("no RuntimeError")


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"BACKEND": "apps.cache.backends.nope"}, "IMPERAL_CACHE['BACKEND']"),
        ({"BACKEND": "apps.cache.core"}, "IMPERAL_CACHE['BACKEND']"),
        (
            {"BACKEND": "apps.cache.backends.redis", "OPTIONS": ["alias"]},
            "IMPERAL_CACHE['OPTIONS']",
        ),
        (
            {
                "BACKEND": "apps.cache.backends.embedded",
                "OPTIONS": {"path": "x"},
                "KEY_PREFIX": "a{b}",
            },
            "IMPERAL_CACHE['KEY_PREFIX']",
        ),
    ],
    ids=["missing-module", "no-CacheBackend", "options-not-a-dict", "bad-prefix"],
)
def test_a_misconfigured_backend_names_the_setting(settings, config, fragment):
    settings.IMPERAL_CACHE = config
    with pytest.raises(ImproperlyConfigured) as caught:
        get_core()
    assert fragment in str(caught.value)


def test_a_redis_backend_on_a_non_redis_alias_names_the_option(settings, ext):
    settings.CACHES = {
        **settings.CACHES,
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    settings.IMPERAL_CACHE = {
        "BACKEND": "apps.cache.backends.redis",
        "OPTIONS": {"alias": "locmem"},
    }
    with pytest.raises(
        ImproperlyConfigured, match=r"IMPERAL_CACHE\['OPTIONS'\]\['alias'\]"
    ):
        async_to_sync(context(ext, "alice").cache.get)("k", ResourceSummary)
