"""Settings read from the environment: per-extension configuration as JSON."""

import json

from tests.processes import platform_process

SHOW_CONFIG = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.IMPERAL_EXTENSION_CONFIG))"
)


def _settings_process(value):
    return platform_process(SHOW_CONFIG, IMPERAL_EXTENSION_CONFIG=value)


def test_extension_config_comes_from_a_json_object_of_objects():
    config = {"bookmarks": {"service": {"api_url": "https://links.example"}}}
    done = _settings_process(json.dumps(config))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == config


def test_malformed_extension_config_stops_the_platform_naming_the_key():
    for value, fragment in (
        ("{not json", "IMPERAL_EXTENSION_CONFIG is not JSON"),
        ('["bookmarks"]', "IMPERAL_EXTENSION_CONFIG must be a JSON object"),
        ('{"bookmarks": "https://x"}', "IMPERAL_EXTENSION_CONFIG['bookmarks']"),
    ):
        done = _settings_process(value)
        assert done.returncode != 0
        assert fragment in done.stderr
