"""Loading IMPERAL_EXTENSIONS entries: every entry form, and broken entries."""

import pytest

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
    "entries",
    [
        (f"{FIX}.probe", f"{FIX}.duplicate_probe"),
        (f"{FIX}.duplicate_probe", f"{FIX}.probe"),
    ],
    ids=["impostor-second", "impostor-first"],
)
def test_a_duplicate_app_id_loads_neither_and_names_both_entries(
    use_extensions, entries
):
    registry = use_extensions(*entries, f"{FIX}.ticker")
    assert len(registry.errors) == 1
    message = str(registry.errors[0])
    assert f"{FIX}.duplicate_probe" in message
    assert f"{FIX}.probe" in message
    assert "'probe'" in message and "neither is loaded" in message
    assert registry.get("probe") is None
    assert sorted(registry.extensions) == ["ticker"]


def test_a_missing_directory_or_module_is_an_error(use_extensions):
    registry = use_extensions(f"{DIRS}/nope", "no_such_module_anywhere", f"{FIX}.probe")
    assert [e.entry for e in registry.errors] == [
        f"{DIRS}/nope",
        "no_such_module_anywhere",
    ]
    assert "probe" in registry.extensions
