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


FETCHER_RULE = "fetcher must be a callable"

# (id, call, exception type, the rule its message names, other fragments)
BAD_INPUT = [
    ("empty-key", set_(key=""), ValueError, KEY_RULE, ["non-empty string"]),
    ("none-key", get(key=None), ValueError, KEY_RULE, ["non-empty string"]),
    ("int-key", delete(42), ValueError, KEY_RULE, ["non-empty string"]),
    ("space-in-key", set_(key="my key"), ValueError, KEY_RULE, ["forbidden"]),
    ("slash-in-key", get(key="a/b/c"), ValueError, KEY_RULE, ["forbidden"]),
    ("newline-key", set_(key="summary\n"), ValueError, KEY_RULE, ["forbidden"]),
    ("unicode-key", get(key="ключ"), ValueError, KEY_RULE, ["forbidden"]),
    ("glob-key", delete("a*"), ValueError, KEY_RULE, ["forbidden characters"]),
    ("129-char-key", set_(key="k" * 129), ValueError, KEY_RULE, ["129 > 128"]),
    ("ttl-4", set_(ttl=4), ValueError, TTL_RULE, ["must be in [5, 300], got 4"]),
    ("ttl-301", set_(ttl=301), ValueError, TTL_RULE, ["got 301"]),
    ("ttl-0-fetch", fetch(ttl=0), ValueError, TTL_RULE, ["got 0"]),
    ("ttl-bool", set_(ttl=True), ValueError, TTL_RULE, ["must be an int", "bool"]),
    ("ttl-float", set_(ttl=60.0), ValueError, TTL_RULE, ["must be an int", "float"]),
    ("ttl-str", fetch(ttl="60"), ValueError, TTL_RULE, ["must be an int", "str"]),
    ("ttl-none", set_(ttl=None), ValueError, TTL_RULE, ["must be an int"]),
    (
        "dict-value",
        set_(value={"total": 1}),
        PydanticOnlyError,
        PYDANTIC_RULE,
        ["instance", "dict"],
    ),
    ("str-value", set_(value="text"), PydanticOnlyError, PYDANTIC_RULE, ["str"]),
    (
        "class-as-value",
        set_(value=ResourceSummary),
        PydanticOnlyError,
        PYDANTIC_RULE,
        ["instance", "class ResourceSummary"],
    ),
    (
        "dict-model",
        get(model=dict),
        PydanticOnlyError,
        PYDANTIC_RULE,
        ["subclass", "class dict"],
    ),
    ("instance-as-model", get(model=SUMMARY), PydanticOnlyError, PYDANTIC_RULE, []),
    ("dict-model-fetch", fetch(model=dict), PydanticOnlyError, PYDANTIC_RULE, []),
    (
        "unregistered-value",
        set_(value=Unregistered(text="x")),
        ValueError,
        REGISTRATION_RULE,
        ["'Unregistered' is not registered"],
    ),
    ("unregistered-model", get(model=Unregistered), ValueError, REGISTRATION_RULE, []),
    (
        "subclass-of-registered",
        set_(value=RegisteredSubclass(total=1, active=1, last_id="")),
        ValueError,
        REGISTRATION_RULE,
        ["'RegisteredSubclass' is not registered"],
    ),
    (
        "unregistered-fetch",
        fetch(model=Unregistered),
        ValueError,
        REGISTRATION_RULE,
        [],
    ),
    (
        "over-64kb",
        set_(value=Note(text="x" * 65_536)),
        ValueError,
        SIZE_RULE,
        ["too large:", "> 65536 bytes"],
    ),
    ("fetcher-not-callable", fetch(fetcher="x"), TypeError, FETCHER_RULE, ["str"]),
]


def stored_entries(core, config):
    """Return {stored key: stored bytes} of every entry under the test's prefix."""
    inner = core.backend.inner
    listed = inner.list(config["KEY_PREFIX"] + ":", 1000)
    return {entry.key: inner.get(entry.key) for entry in listed}


@pytest.fixture
def existing_entries(core, ext, cache_config, calls):
    """Store a ResourceSummary and a DashboardView under "k"; return the stored state.

    The backend calls that made them are cleared, so ``calls`` starts empty.
    """
    cache = context(ext, "alice").cache
    dashboard = DashboardView(spend_today=1.0, clicks=2, active_campaigns=3)
    async_to_sync(cache.set)("k", SUMMARY, ttl_seconds=60)
    async_to_sync(cache.set)("k", dashboard, ttl_seconds=60)
    calls.clear()
    stored = stored_entries(core, cache_config)
    assert len(stored) == 2
    return stored


@pytest.mark.parametrize(
    "call, error, rule, fragments",
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUT],
)
def test_bad_input_raises_naming_its_rule_before_any_backend_call(
    core, ext, cache_config, calls, existing_entries, call, error, rule, fragments
):
    cache = context(ext, "alice").cache

    async def invoke():
        return await call(cache)

    with pytest.raises(error) as caught:
        async_to_sync(invoke)()
    for fragment in [rule, *fragments]:
        assert fragment in str(caught.value)
    assert calls == []
    assert stored_entries(core, cache_config) == existing_entries


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
