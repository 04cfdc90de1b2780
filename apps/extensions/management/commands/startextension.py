"""manage.py startextension NAME [DIR] — `imperal init`'s scaffold, plus what this platform serves.

imperal-sdk's own ``init`` writes the Extension (its chat template); this
command moves that ``main.py`` to ``app.py`` (the layout of Imperal extension
repositories, where ``main.py`` imports the handler modules), points the
Extension at a ``migrations/`` folder for ctx.db, and adds the files under
``startextension_files/``: a ctx.store tool, a panel through
``ctx.cache.get_or_fetch``, a ``list_users``/``as_user`` schedule, a cache
model, a ctx.db migration and tests using ``imperal_platform.testing``.
"""

import contextlib
import io
import json
import re
import shutil
import string
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from imperal_sdk.cli.main import init as sdk_init
from imperal_sdk.validator import APP_ID_PATTERN

FILES = Path(__file__).resolve().parent / "startextension_files"
TEMPLATE_SUFFIX = "-tpl"
# The line of imperal init's main.py that opens the Extension(...) call.
_EXTENSION_OPENING = re.compile(r'^ext = Extension\(\n    "[^"]+",\n', re.MULTILINE)


class Command(BaseCommand):
    help = (
        "Create an extension directory: imperal-sdk's `imperal init` scaffold plus "
        "a ctx.store tool, a cached panel, a fan-out schedule, a cache model, ctx.db "
        "migrations and tests that run on this platform."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the app_id, e.g. my-notes")
        parser.add_argument(
            "directory", nargs="?", help="where to create it (default: ./NAME)"
        )

    def handle(self, *args, name, directory=None, **options):
        if not APP_ID_PATTERN.match(name):
            raise CommandError(
                f"NAME must be an imperal-sdk app_id ([a-z0-9][a-z0-9-]*[a-z0-9], "
                f"2+ characters, no uppercase), got {name!r}"
            )
        target = Path(directory or name).resolve()
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise CommandError(f"{str(target)!r} already exists and is not empty")
        with tempfile.TemporaryDirectory() as scratch:
            scaffold = _run_sdk_init(Path(scratch) / name)
            _adapt(scaffold, name)
            target.mkdir(parents=True, exist_ok=True)
            for item in sorted(scaffold.iterdir()):
                shutil.move(str(item), target / item.name)
        files = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
        self.stdout.write(
            json.dumps(
                {
                    "app_id": name,
                    "directory": str(target),
                    "files": [f for f in files if (target / f).is_file()],
                    "load_with": f"IMPERAL_EXTENSIONS={target}",
                    "test_with": f"cd {target} && {settings.BASE_DIR}/.venv/bin/pytest",
                },
                indent=2,
            )
        )


def _run_sdk_init(path):
    """Return ``path`` after imperal-sdk's ``init`` (chat template) wrote it.

    Raises CommandError when the SDK's command fails; its chatter is dropped
    (this command prints JSON).
    """
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            sdk_init.callback(str(path), "chat")
    except (OSError, SystemExit) as exc:
        raise CommandError(f"imperal init failed: {exc}") from exc
    return path


def _adapt(scaffold, app_id):
    """Turn imperal init's output into this platform's layout, in place."""
    app_py = scaffold / "main.py"
    source = app_py.read_text()
    if not _EXTENSION_OPENING.search(source):
        raise CommandError(
            'imperal init\'s main.py no longer opens with `ext = Extension("<app_id>",`'
            "; this command needs updating for the installed imperal-sdk"
        )
    source = _EXTENSION_OPENING.sub(
        lambda m: m.group(0) + '    migrations_dir="migrations",  # ctx.db\n',
        source,
        count=1,
    )
    (scaffold / "app.py").write_text(source)
    app_py.unlink()
    values = {"app_id": app_id, "platform_dir": str(settings.BASE_DIR)}
    for template in FILES.rglob(f"*{TEMPLATE_SUFFIX}"):
        relative = template.relative_to(FILES)
        out = scaffold / str(relative).removesuffix(TEMPLATE_SUFFIX)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(string.Template(template.read_text()).substitute(values))
