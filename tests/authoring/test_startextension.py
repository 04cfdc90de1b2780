"""manage.py startextension: imperal init's scaffold plus the platform's extras, tested."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.extensions.invocation import prepare_tool

BIN = Path(sys.executable).parent
# The platform's own rules (pyproject.toml), but not import sorting: ruff
# cannot tell an extension's sibling modules from third-party ones.
RUFF_RULES = ["--select", "E,F,W,B,UP", "--line-length", "100"]
OURS = [
    "main.py",
    "cache_models.py",
    "notes.py",
    "panels.py",
    "schedules.py",
    "conftest.py",
    "tests/test_platform.py",
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    target = tmp_path_factory.mktemp("gen") / "field-log"
    out = subprocess.run(
        [sys.executable, "manage.py", "startextension", "field-log", str(target)],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return target, json.loads(out.stdout)


def test_it_builds_on_imperal_inits_output(generated):
    target, report = generated
    assert report["app_id"] == "field-log"
    # imperal init's files, as the SDK wrote them (its main.py is now app.py)...
    for name in ("app.py", "icon.svg", "requirements.txt", "tests/test_main.py"):
        assert (target / name).is_file(), name
    assert 'migrations_dir="migrations"' in (target / "app.py").read_text()
    # ...and this platform's.
    for name in [*OURS, "migrations/001_visits.sql", "pytest.ini"]:
        assert name in report["files"], name
    assert f"pythonpath = {settings.BASE_DIR}" in (target / "pytest.ini").read_text()


def test_imperal_validate_accepts_it(generated):
    target, _ = generated
    result = subprocess.run(
        [str(BIN / "imperal"), "validate", "."],
        cwd=target,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout or "No issues" in result.stdout


def test_its_own_files_are_ruff_clean(generated):
    target, _ = generated
    result = subprocess.run(
        [str(BIN / "ruff"), "check", "--no-cache", "--isolated", *RUFF_RULES, *OURS],
        cwd=target,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def run_its_tests(target, env):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.embedded_default
def test_its_tests_pass_with_the_plugin_on_the_embedded_default(generated, tmp_path):
    target, _ = generated
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env["IMPERAL_VAR_DIR"] = str(tmp_path / "var")
    result = run_its_tests(target, env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "8 passed" in result.stdout, result.stdout[-2000:]
    assert "testing: database=sqlite3 cache=embedded" in result.stdout


@pytest.mark.postgres
@pytest.mark.redis
def test_its_tests_pass_with_the_plugin_on_postgresql_and_redis(generated, tmp_path):
    target, _ = generated
    url = urlsplit(os.environ["DATABASE_URL"])
    # Its own database: pytest-django makes test_<name>, which this run holds.
    own = urlunsplit(url._replace(path=url.path.rstrip("/") + "_startext"))
    env = {
        **os.environ,
        "DATABASE_URL": own,
        "IMPERAL_VAR_DIR": str(tmp_path / "var"),
        "IMPERAL_CACHE_PREFIX": f"{settings.CACHE_KEY_PREFIX}-startext",
    }
    result = run_its_tests(target, env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "8 passed" in result.stdout, result.stdout[-2000:]
    assert "testing: database=postgresql cache=redis" in result.stdout


@pytest.mark.django_db
def test_it_loads_through_imperal_extensions_at_once(generated, use_extensions, alice):
    target, _ = generated
    registry = use_extensions(str(target))
    assert registry.errors == []
    call_command("migrate_extensions", "field-log", stdout=open(os.devnull, "w"))
    loaded = registry.get("field-log")
    assert set(loaded.tools()) == {"add_note", "complete_note", "record_visit"}
    assert set(loaded.chat_functions()) == {"greet"}
    assert set(loaded.panels()) == {"stats"}
    assert set(loaded.ext.schedules) == {"open_notes_reminder"}
    assert set(loaded.ext._cache_models) == {"note_stats"}
    call = prepare_tool("field-log", "add_note", "alice", {"text": "hello"})
    from asgiref.sync import async_to_sync

    assert set(async_to_sync(call.run)()) == {"id"}


@pytest.mark.parametrize(
    "name, problem",
    [("My_Notes", "must be an imperal-sdk app_id"), ("x", "must be an imperal-sdk")],
)
def test_it_refuses_a_name_that_is_not_an_app_id(name, problem, tmp_path):
    with pytest.raises(CommandError, match=problem):
        call_command("startextension", name, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_it_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(CommandError, match="already exists and is not empty"):
        call_command("startextension", "my-notes", str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
