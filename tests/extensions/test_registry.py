"""Loading IMPERAL_EXTENSIONS entries: every entry form, and broken entries."""

import pytest
from imperal_sdk.manifest_schema import APP_ID_PATTERN

from apps.extensions.registry import get_registry

FIX = "tests.fixtures.extensions"
DIRS = "tests/fixtures/extensions"


def test_the_bundled_extensions_load_by_default():
    registry = get_registry()
    assert registry.errors == []
    assert {"my-app", "contacts"} <= set(registry.extensions)
    assert registry.get("my-app").entry == "extensions/my_app"


def test_a_module_path_registers_its_extension(use_extensions):
    registry = use_extensions(f"{FIX}.probe")
    assert list(registry.extensions) == ["probe"]
    assert "greet" in registry.get("probe").ext.tools


def test_module_attr_names_one_extension(use_extensions):
    registry = use_extensions(f"{FIX}.probe:ext")
    assert registry.errors == []
    assert registry.get("probe").entry == f"{FIX}.probe:ext"


def test_module_attr_that_is_not_an_extension_is_an_error(use_extensions):
    registry = use_extensions(f"{FIX}.probe:Order", f"{FIX}.probe")
    assert [e.entry for e in registry.errors] == [f"{FIX}.probe:Order"]
    assert "not an imperal_sdk.Extension" in registry.errors[0].message
    assert "probe" in registry.extensions


def test_directories_with_main_py_load_each_with_its_own_siblings(use_extensions):
    registry = use_extensions(f"{DIRS}/dir_ext", f"{DIRS}/dir_ext2")
    assert registry.errors == []
    assert set(registry.extensions) == {"dir-ext", "dir-ext-2"}
    # Both directories have an app.py and a handlers.py; each got its own.
    assert "where" in registry.get("dir-ext").ext.tools
    assert "where" in registry.get("dir-ext-2").ext.tools
    assert registry.get("dir-ext").ext is not registry.get("dir-ext-2").ext


def test_a_broken_import_names_the_entry_and_the_others_still_load(use_extensions):
    registry = use_extensions(f"{FIX}.broken_import", f"{FIX}.probe")
    assert len(registry.errors) == 1
    error = registry.errors[0]
    assert error.entry == f"{FIX}.broken_import"
    assert "a_module_that_does_not_exist" in error.message
    assert f"{FIX}.broken_import" in str(error)
    assert "probe" in registry.extensions


def test_an_entry_without_an_extension_is_an_error(use_extensions):
    registry = use_extensions(f"{FIX}.no_extension", f"{FIX}.probe")
    assert [str(e) for e in registry.errors] == [
        f"extension entry '{FIX}.no_extension': defines no imperal_sdk.Extension instance"
    ]
    assert "probe" in registry.extensions


@pytest.mark.parametrize(
    "first, later",
    [
        (f"{FIX}.probe", f"{FIX}.duplicate_probe"),
        (f"{FIX}.duplicate_probe", f"{FIX}.probe"),
    ],
    ids=["impostor-later", "impostor-first"],
)
def test_a_taken_app_id_keeps_the_first_entry_and_refuses_the_later_by_name(
    use_extensions, first, later
):
    registry = use_extensions(first, later, f"{FIX}.ticker")
    (error,) = registry.errors
    assert error.entry == later
    assert str(error) == (
        f"extension entry {later!r}: app_id 'probe' is already taken by entry "
        f"{first!r}, which stays loaded; this entry's Extension is not loaded "
        "(rename it)"
    )
    assert registry.get("probe").entry == first
    assert sorted(registry.extensions) == ["probe", "ticker"]


@pytest.mark.parametrize(
    "app_id",
    ["Contacts", "my_app", "a", "-probe", "probe-", "a/b", "a b", "<b>x</b>", ""],
)
def test_an_app_id_breaking_the_sdks_pattern_is_refused_naming_the_entry(
    use_extensions, tmp_path, monkeypatch, app_id
):
    module = f"odd_app_id_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(
        f"from imperal_sdk import Extension\next = Extension({app_id!r})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = use_extensions(module, f"{FIX}.probe")
    (error,) = registry.errors
    assert error.entry == module
    assert f"app_id {app_id!r} does not match imperal-sdk's app_id pattern" in str(
        error
    )
    assert APP_ID_PATTERN.pattern in str(error)
    assert sorted(registry.extensions) == ["probe"]


def test_a_missing_directory_or_module_is_an_error(use_extensions):
    registry = use_extensions(f"{DIRS}/nope", "no_such_module_anywhere", f"{FIX}.probe")
    assert [e.entry for e in registry.errors] == [
        f"{DIRS}/nope",
        "no_such_module_anywhere",
    ]
    assert "probe" in registry.extensions
