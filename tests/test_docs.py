"""The docs' sources: code blocks that compile, the API reference covering the public surface.

(Public imports in the docs' code are checked with the layout in ``tests/wire/test_layers.py``;
``make docs`` builds the site with warnings as errors, and the browser test opens it.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import metastudio_emulator
from tests.wire.test_layers import (
    _declared_all,
    _documented_code,
    _documents,
    _public_modules,
)

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def _docs_blocks() -> list[tuple[str, str]]:
    return [(where, code) for where, code in _documented_code() if " block " in where]


def test_the_docs_have_python_blocks_to_check() -> None:
    wheres = {where.split(" block ")[0] for where, _ in _docs_blocks()}
    assert "README.md" in wheres and len(wheres) >= 5


@pytest.mark.parametrize(("where", "code"), _docs_blocks(), ids=lambda v: v if " block " in v else "")
def test_every_python_block_compiles(where: str, code: str) -> None:
    compile(code, where, "exec")


def test_the_docs_import_only_the_emulators_public_names() -> None:
    exported = set(metastudio_emulator.__all__)
    private = []
    for where, code in _docs_blocks():
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("metastudio_emulator"):
                if node.module != "metastudio_emulator":
                    private.append(f"{where}: from {node.module}")
                private += [f"{where}: {a.name}" for a in node.names if a.name not in exported]
    assert private == []


def test_the_api_reference_documents_every_public_module_and_nothing_else() -> None:
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", (DOCS / "api.md").read_text(), flags=re.M))
    shim = "airflow_provider_voicetraining.version_compat"
    public = {m for m in _public_modules() if _declared_all(m)} - {shim}
    assert documented == public | {"metastudio_emulator"}


def test_examples_are_included_from_the_dags_by_markers_that_exist() -> None:
    includes = []
    for document in _documents():
        text = document.read_text()
        for path, start, end in re.findall(
            r"```\{literalinclude\} (\S+)\n(?:.*\n)*?:start-after: \"(.+)\"\n:end-before: \"(.+)\"", text
        ):
            source = (document.parent / path).resolve()
            assert source.parent == REPO / "dags", f"{document.name} includes {path}"
            body = source.read_text()
            assert f"# {start}" in body and f"# {end}" in body, f"{document.name}: {start} / {end}"
            includes.append(start)
    # every operator, the sensor and get_conn() are shown from a DAG the tests run
    assert len(includes) >= 8
