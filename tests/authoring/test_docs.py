"""Every code block in docs/ runs, so the docs cannot rot.

Per document: its ``python`` blocks, joined in order, are the ``main.py`` of
an extension directory (``sql migrations/NNN_x.sql`` blocks are its
migration files); the directory is loaded through the plugin and each
``def test_*`` it defines runs with the fixtures it names. Its ``sh`` blocks
run in order, in one scratch directory, with ``$PLATFORM`` naming this
checkout. A block of any other kind fails the suite.
"""

import ast
import inspect
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from tests.fixtures.samples import sample_module

DOCS = Path(settings.BASE_DIR) / "docs"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SQL_PATH = re.compile(r"migrations/[0-9]{3}_[a-z0-9_]+(\.(postgresql|sqlite))?\.sql")
RUNNABLE = {"python", "sql", "sh"}


@dataclass
class Block:
    doc: str
    line: int
    lang: str
    info: str
    code: str


def blocks_of(path):
    """Return the fenced code blocks of one Markdown file, in order."""
    text = path.read_text()
    found = []
    for match in FENCE.finditer(text):
        info = match.group(1).strip()
        lang, _, rest = info.partition(" ")
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(path.name, line, lang, rest.strip(), match.group(2)))
    return found


def documents():
    return sorted(DOCS.glob("*.md"))


def doc_tests():
    """Return (doc, test function name) for every test_* the docs define."""
    params = []
    for path in documents():
        code = "\n\n".join(b.code for b in blocks_of(path) if b.lang == "python")
        if not code:
            continue
        names = [
            node.name
            for node in ast.parse(code, filename=path.name).body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
        ]
        params += [pytest.param(path.name, n, id=f"{path.stem}:{n}") for n in names]
    return params


def test_the_docs_exist_and_hold_code():
    names = {p.name for p in documents()}
    assert {"README.md", "testing.md", "persistence.md"} <= names
    assert sum(len(blocks_of(p)) for p in documents()) >= 20


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.stem)
def test_every_code_block_is_of_a_kind_that_runs(path):
    for block in blocks_of(path):
        where = f"{block.doc}:{block.line}"
        assert block.lang in RUNNABLE, f"{where}: a ```{block.lang} block never runs"
        if block.lang == "sql":
            assert SQL_PATH.fullmatch(block.info), f"{where}: name its migration file"


@pytest.fixture(scope="session")
def doc_directories(tmp_path_factory):
    """Return a function giving the extension directory written from one document."""
    made = {}

    def directory(doc):
        if doc not in made:
            root = tmp_path_factory.mktemp(Path(doc).stem.replace("-", "_"))
            blocks = blocks_of(DOCS / doc)
            code = "\n\n".join(b.code for b in blocks if b.lang == "python")
            (root / "main.py").write_text(code)
            for block in blocks:
                if block.lang == "sql":
                    (root / block.info).parent.mkdir(exist_ok=True)
                    (root / block.info).write_text(block.code)
            made[doc] = root
        return made[doc]

    return directory


@pytest.mark.parametrize("doc, name", doc_tests())
def test_a_docs_example_runs(doc, name, imperal, doc_directories, request):
    loaded = imperal.load(doc_directories(doc))
    function = getattr(sample_module(loaded, "main"), name)
    kwargs = {
        param: imperal if param == "imperal" else request.getfixturevalue(param)
        for param in inspect.signature(function).parameters
    }
    if inspect.iscoroutinefunction(function):
        async_to_sync(function)(**kwargs)
    else:
        function(**kwargs)


def docs_with_shell():
    return [p for p in documents() if any(b.lang == "sh" for b in blocks_of(p))]


@pytest.mark.slow
@pytest.mark.embedded_default
@pytest.mark.parametrize("path", docs_with_shell(), ids=lambda p: p.stem)
def test_a_docs_shell_blocks_run(path, tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(PLATFORM=str(settings.BASE_DIR), IMPERAL_VAR_DIR=str(tmp_path / "var"))
    for block in (b for b in blocks_of(path) if b.lang == "sh"):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, (
            f"{block.doc}:{block.line} exited {result.returncode}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
