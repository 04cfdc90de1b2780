"""IMPERAL_DB's timeouts: read once per backend, per extension overrides, bad values named."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.db.core import load_backend

from .conftest import backend_options


@pytest.fixture
def make(tmp_path):
    def make(**options):
        return load_backend({**backend_options("sqlite", tmp_path), **options})

    return make


def test_values_from_the_environment_and_overrides_as_json(make):
    backend = make(
        STATEMENT_TIMEOUT="2.5",
        LOCK_TIMEOUT="0",
        IDLE_IN_TRANSACTION_TIMEOUT=7,
        EXTENSION_OPTIONS='{"slow-app": {"STATEMENT_TIMEOUT": 120}}',
    )
    fast, slow = backend.timeouts("fast-app"), backend.timeouts("slow-app")
    assert (fast.statement, fast.lock, fast.idle_in_transaction) == (2.5, 0.0, 7.0)
    assert (slow.statement, slow.lock, slow.idle_in_transaction) == (120.0, 0.0, 7.0)


def test_the_shipped_defaults(settings, make):
    options = {key: settings.IMPERAL_DB[key] for key in settings.IMPERAL_DB}
    timeouts = make(**options).timeouts("any-app")
    assert (timeouts.statement, timeouts.lock, timeouts.idle_in_transaction) == (
        30.0,
        10.0,
        60.0,
    )


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"STATEMENT_TIMEOUT": "soon"}, r"IMPERAL_DB\['STATEMENT_TIMEOUT'\]"),
        ({"LOCK_TIMEOUT": -1}, r"IMPERAL_DB\['LOCK_TIMEOUT'\] must be .* -1"),
        ({"STATEMENT_TIMEOUT": float("nan")}, "STATEMENT_TIMEOUT"),
        ({"STATEMENT_TIMEOUT": True}, "STATEMENT_TIMEOUT"),
        ({"EXTENSION_OPTIONS": "{not json"}, "EXTENSION_OPTIONS.*not valid JSON"),
        ({"EXTENSION_OPTIONS": "[1]"}, "EXTENSION_OPTIONS.*must map app_ids"),
        ({"EXTENSION_OPTIONS": {"a": 5}}, r"\['a'\] must be a dict"),
        (
            {"EXTENSION_OPTIONS": {"a": {"STATEMENT_TIMEOT": 5}}},
            "unknown key.*STATEMENT_TIMEOT",
        ),
        (
            {"EXTENSION_OPTIONS": {"a": {"LOCK_TIMEOUT": "x" * 500}}},
            r"\['a'\]\['LOCK_TIMEOUT'\]",
        ),
    ],
)
def test_a_bad_value_names_its_setting(make, options, named):
    with pytest.raises(ImproperlyConfigured, match=named) as caught:
        make(**options)
    assert len(str(caught.value)) < 300  # a long bad value is cut short


def test_the_timeout_error_names_the_limit_and_both_settings(make):
    error = make(STATEMENT_TIMEOUT=3).timeouts("my-app").error("STATEMENT_TIMEOUT")
    assert (error.limit, error.seconds, error.app_id) == (
        "STATEMENT_TIMEOUT",
        3.0,
        "my-app",
    )
    message = str(error)
    assert "STATEMENT_TIMEOUT = 3 s" in message
    assert "IMPERAL_DB['STATEMENT_TIMEOUT']" in message
    assert "IMPERAL_DB['EXTENSION_OPTIONS']['my-app']['STATEMENT_TIMEOUT']" in message
