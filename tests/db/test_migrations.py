"""migrate_extensions: files in order, each in a transaction, recorded once."""

import json
import textwrap

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from apps.db.core import get_backend
from apps.db.errors import DbPermissionError, MigrationChanged, MigrationError
from apps.db.face import DbFace
from apps.db.migrator import migrate_extension
from apps.db.models import ExtensionMigration

from .conftest import execute, run


@pytest.fixture
def make_extension(tmp_path, use_extensions):
    """Write an extension directory with the given migration files; return it loaded."""

    def make(files, app_id="mig-probe"):
        directory = tmp_path / app_id.replace("-", "_")
        (directory / "sql").mkdir(parents=True)
        (directory / "main.py").write_text(
            "from imperal_sdk import Extension\n"
            f"ext = Extension({app_id!r}, migrations_dir='sql')\n"
        )
        for name, text in files.items():
            (directory / "sql" / name).write_text(textwrap.dedent(text))
        return use_extensions(str(directory)).get(app_id)

    return make


def tables(app_id="mig-probe"):
    sql = (
        "SELECT table_name AS name FROM information_schema.tables "
        "WHERE table_schema = current_schema() ORDER BY 1"
        if get_backend().vendor == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    )
    return [row["name"] for row in run(execute, DbFace(app_id), sql)]


def recorded(app_id="mig-probe"):
    return list(
        ExtensionMigration.objects.of_extension(app_id).values_list(
            "filename", flat=True
        )
    )


def test_files_apply_in_name_order_once_and_are_recorded(make_extension):
    loaded = make_extension(
        {
            "002_fill.sql": "INSERT INTO a (v) VALUES ('from 002');",
            "001_create.sql": "-- first\nCREATE TABLE a (v TEXT);\nCREATE TABLE b (v TEXT);",
        }
    )
    assert migrate_extension(loaded) == ["001_create.sql", "002_fill.sql"]
    assert migrate_extension(loaded) == []
    assert recorded() == ["001_create.sql", "002_fill.sql"]
    assert tables() == ["a", "b"]
    rows = run(execute, DbFace("mig-probe"), "SELECT v FROM a").all()
    assert rows == [{"v": "from 002"}]
    checksum = ExtensionMigration.objects.get(filename="001_create.sql").checksum
    assert len(checksum) == 64


def test_a_failing_file_stops_the_run_and_keeps_the_earlier_ones(make_extension):
    loaded = make_extension(
        {
            "001_ok.sql": "CREATE TABLE a (v TEXT);",
            "002_broken.sql": "CREATE TABLE b (v TEXT);\nCREATE TABLE oops (;",
            "003_never.sql": "CREATE TABLE c (v TEXT);",
        }
    )
    with pytest.raises(MigrationError, match="002_broken.sql") as caught:
        migrate_extension(loaded)
    assert caught.value.filename == "002_broken.sql"
    assert recorded() == ["001_ok.sql"]
    assert tables() == ["a"]  # b rolled back with its file, c never ran


def test_a_changed_applied_file_is_reported_and_nothing_more_runs(make_extension):
    loaded = make_extension({"001_create.sql": "CREATE TABLE a (v TEXT);"})
    migrate_extension(loaded)
    path = loaded.ext.migrations_dir
    from apps.db.migrator import migrations_dir

    sql_dir = migrations_dir(loaded)
    assert str(sql_dir).endswith(path)
    (sql_dir / "001_create.sql").write_text("CREATE TABLE a (v TEXT, w TEXT);")
    (sql_dir / "002_next.sql").write_text("CREATE TABLE b (v TEXT);")
    with pytest.raises(MigrationChanged, match="001_create.sql.*changed"):
        migrate_extension(loaded)
    assert tables() == ["a"]
    assert recorded() == ["001_create.sql"]


def test_files_for_another_backend_are_skipped(make_extension):
    vendor = get_backend().vendor
    other = "sqlite" if vendor == "postgresql" else "postgresql"
    loaded = make_extension(
        {
            "001_all.sql": "CREATE TABLE a (v TEXT);",
            f"002_mine.{vendor}.sql": "CREATE TABLE mine (v TEXT);",
            f"002_theirs.{other}.sql": "THIS WOULD NOT PARSE;",
        }
    )
    assert migrate_extension(loaded) == ["001_all.sql", f"002_mine.{vendor}.sql"]


@pytest.mark.postgres
def test_a_migration_runs_as_the_extension_and_cannot_reach_platform_tables(
    make_extension,
):
    loaded = make_extension(
        {"001_steal.sql": "CREATE TABLE stolen AS SELECT * FROM public.accounts_user;"}
    )
    with pytest.raises(MigrationError, match="permission denied") as caught:
        migrate_extension(loaded)
    assert isinstance(caught.value.__cause__, DbPermissionError)
    assert recorded() == []


def test_the_command_migrates_one_extension_and_prints_json(make_extension, capsys):
    make_extension({"001_create.sql": "CREATE TABLE a (v TEXT);"})
    call_command("migrate_extensions", "mig-probe")
    report = json.loads(capsys.readouterr().out)
    assert report["extensions"] == [
        {"app_id": "mig-probe", "applied": ["001_create.sql"]}
    ]
    with pytest.raises(CommandError, match="unknown extension 'nope'"):
        call_command("migrate_extensions", "nope")


def test_the_command_names_the_failing_file(make_extension, capsys):
    make_extension({"001_bad.sql": "CREATE TABLE (;"})
    with pytest.raises(
        CommandError, match="migration 001_bad.sql of extension 'mig-probe'"
    ):
        call_command("migrate_extensions")


def test_a_relative_migrations_dir_is_relative_to_the_extension(use_extensions):
    from apps.db.migrator import migrations_dir

    loaded = use_extensions("extensions/my_app").get("my-app")
    assert migrations_dir(loaded) == settings.BASE_DIR / "extensions/my_app/migrations"
