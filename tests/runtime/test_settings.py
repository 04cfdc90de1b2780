"""Where extensions run: the settings' rules, the default, and what ext list shows."""

import json

import pytest
from django.core.management import call_command

from apps.extensions.runtimes import runtime_name
from apps.runtime.config import RuntimeSettingError, check_env_map, check_runtime_map
from tests.processes import platform_process

SHOW = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps([settings.IMPERAL_EXTENSION_RUNTIME, settings.IMPERAL_EXTENSION_ENV]))"
)


def settings_process(**variables):
    return platform_process(SHOW, **variables)


def test_runtimes_and_worker_environments_come_from_json():
    done = settings_process(
        IMPERAL_EXTENSION_RUNTIME='{"notes": "isolated", "contacts": "in-process"}',
        IMPERAL_EXTENSION_ENV='{"notes": {"NOTES_API_URL": "https://notes.example"}}',
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"notes": "isolated", "contacts": "in-process"},
        {"notes": {"NOTES_API_URL": "https://notes.example"}},
    ]


RUNTIME = "IMPERAL_EXTENSION_RUNTIME"
ENV = "IMPERAL_EXTENSION_ENV"
BAD = [
    (RUNTIME, '{"notes": "sandboxed"}', "IMPERAL_EXTENSION_RUNTIME['notes'] must be"),
    (RUNTIME, "[1]", "IMPERAL_EXTENSION_RUNTIME must be a JSON object"),
    (RUNTIME + "_DEFAULT", "docker", "IMPERAL_EXTENSION_RUNTIME_DEFAULT must be"),
    (ENV, '{"notes": {"1BAD": "x"}}', "variable name '1BAD' breaks the rule"),
    (ENV, '{"notes": {"IMPERAL_WORKER_TOKEN": "x"}}', "is reserved"),
    (ENV, '{"notes": {"PORT": 80}}', "must be a string"),
    (ENV, '{"notes": "x"}', "must be an object of variables"),
]


@pytest.mark.parametrize("variable, value, fragment", BAD)
def test_a_bad_runtime_setting_stops_the_platform_naming_the_key(
    variable, value, fragment
):
    done = settings_process(**{variable: value})
    assert done.returncode != 0
    assert fragment in done.stderr


def test_the_rules_hold_for_settings_set_at_run_time_too():
    with pytest.raises(RuntimeSettingError, match=r"\['x'\] must be one of"):
        check_runtime_map("IMPERAL_EXTENSION_RUNTIME", {"x": "elsewhere"})
    with pytest.raises(RuntimeSettingError, match="NUL"):
        check_env_map("IMPERAL_EXTENSION_ENV", {"x": {"A": "a\x00b"}})


def test_bundled_samples_run_in_process_and_others_as_the_default_says(
    use_extensions, settings
):
    settings.IMPERAL_EXTENSION_RUNTIME = {}
    settings.IMPERAL_EXTENSION_RUNTIME_DEFAULT = "isolated"
    registry = use_extensions("extensions.contacts", "tests.fixtures.extensions.probe")
    assert runtime_name(registry.get("contacts")) == "in-process"
    assert runtime_name(registry.get("probe")) == "isolated"
    settings.IMPERAL_EXTENSION_RUNTIME = {"contacts": "isolated", "probe": "in-process"}
    assert runtime_name(registry.get("contacts")) == "isolated"
    assert runtime_name(registry.get("probe")) == "in-process"


@pytest.mark.django_db
def test_ext_list_shows_where_each_extension_runs(use_extensions, settings, capsys):
    settings.IMPERAL_EXTENSION_RUNTIME = {"probe": "isolated"}
    use_extensions("extensions.contacts", "tests.fixtures.extensions.probe")
    call_command("ext", "list")
    listing = json.loads(capsys.readouterr().out)["extensions"]
    assert {e["app_id"]: e["runtime"] for e in listing} == {
        "contacts": "in-process",
        "probe": "isolated",
    }
