"""Extensions' SQL migrations: found in ``migrations_dir``, applied in order as the
extension itself, each in its own transaction, recorded once applied.

A file ``NNN_name.sql`` applies on every backend; ``NNN_name.postgresql.sql``
or ``NNN_name.sqlite.sql`` only on that one. Files apply in name order.
"""

import hashlib
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .core import get_backend
from .errors import DbError, MigrationChanged, MigrationError
from .models import ExtensionMigration

logger = logging.getLogger(__name__)

VENDORS = ("postgresql", "sqlite")


@dataclass(frozen=True)
class MigrationFile:
    """One SQL file of an extension's migrations_dir."""

    filename: str
    text: str
    checksum: str

    @classmethod
    def read(cls, path):
        data = path.read_bytes()
        return cls(path.name, data.decode("utf-8"), hashlib.sha256(data).hexdigest())


def migrations_dir(loaded):
    """Return the absolute migrations directory of a LoadedExtension, or None.

    A relative ``migrations_dir`` is relative to the extension's own
    directory: the IMPERAL_EXTENSIONS directory entry, else the directory of
    the entry's module.
    """
    configured = loaded.ext.migrations_dir
    if not configured:
        return None
    path = Path(configured)
    return path if path.is_absolute() else extension_root(loaded.entry) / path


def extension_root(entry):
    """Return the directory an IMPERAL_EXTENSIONS entry lives in."""
    if not (":" in entry and "/" not in entry):
        path = Path(entry)
        path = path if path.is_absolute() else Path(settings.BASE_DIR) / path
        if path.is_dir():
            return path.resolve()
    module = importlib.import_module(entry.partition(":")[0])
    return Path(module.__file__).resolve().parent


def migration_files(loaded, vendor):
    """Return the MigrationFiles of ``loaded`` that apply to ``vendor``, in order.

    Raises MigrationError when the configured directory does not exist.
    """
    directory = migrations_dir(loaded)
    if directory is None:
        return []
    if not directory.is_dir():
        raise MigrationError(
            loaded.app_id, str(directory), "migrations_dir is not a directory"
        )
    files = []
    for path in sorted(directory.glob("*.sql")):
        parts = path.name.split(".")
        if len(parts) >= 3 and parts[-2] in VENDORS and parts[-2] != vendor:
            continue
        files.append(MigrationFile.read(path))
    return files


def migrate_extension(loaded, backend=None):
    """Apply ``loaded``'s pending migration files; return the file names applied.

    Provisions the extension's schema and role first. Raises MigrationChanged
    (before applying anything) when an applied file changed, and
    MigrationError naming the file that failed; files before it stay applied.
    """
    backend = backend or get_backend()
    app_id = loaded.app_id
    files = migration_files(loaded, backend.vendor)
    backend.provision(app_id)
    with backend.migration_lock(app_id):
        recorded = dict(
            ExtensionMigration.objects.filter(app_id=app_id).values_list(
                "filename", "checksum"
            )
        )
        for file in files:
            if file.filename in recorded and recorded[file.filename] != file.checksum:
                raise MigrationChanged(
                    app_id, file.filename, recorded[file.filename], file.checksum
                )
        return [
            _apply(backend, app_id, file)
            for file in files
            if file.filename not in recorded
        ]


def _apply(backend, app_id, file):
    try:
        backend.run_script(app_id, file.text)
    except DbError as exc:
        raise MigrationError(
            app_id, file.filename, str(exc), sqlstate=exc.sqlstate
        ) from exc
    # Recorded after its own commit: if the process dies in between, the next
    # run re-applies the file and fails loudly on what it already created.
    ExtensionMigration.objects.create(
        app_id=app_id, filename=file.filename, checksum=file.checksum
    )
    logger.info("ctx.db: applied %s of %s", file.filename, app_id)
    return file.filename


def provision_after_sync(sender, registry, summary, **kwargs):
    """Provision every synced extension's schema and role (extensions_synced receiver).

    A failure is logged and added to ``summary["errors"]``; it does not stop
    the sync.
    """
    backend = get_backend()
    for loaded in registry:
        try:
            backend.provision(loaded.app_id)
        except DbError as exc:
            logger.error("ctx.db: could not provision %s: %s", loaded.app_id, exc)
            summary["errors"].append(f"ctx.db for {loaded.app_id!r}: {exc}")
