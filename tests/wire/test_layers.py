"""The layout's rules, pinned (docs/design.md draws the layout).

* floors: no import runs upward, lazy and ``TYPE_CHECKING`` imports included; ``_wire`` imports
  nothing of the package outside itself, and no Airflow; the provider never imports the emulator;
  the sensor, operators and link import nothing from ``_wire``;
* the public surface: every public module (no leading underscore in its path) has an ``__all__``
  whose names exist; ``dags/``, the README's and the docs' code import public names only; every
  package path the README and the docs name resolves; each deprecated path warns and names the
  new one;
* importing the sensor and operator modules (what a DAG file does on every parse) loads no HTTP
  stack, not the hook and not Airflow's trigger base (fresh interpreters).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_voicetraining"
PROVIDER = REPO / PACKAGE
EMULATOR = REPO / "metastudio_emulator"

#: Floors, lowest first: a module may import its own floor and those below. Root-level modules
#: (the package's ``__init__`` and the public re-exports, ``version_compat``, ``_wait_rules``)
#: are floor 1; every folder is named here.
FLOORS = {"_wire": 0, "hooks": 2, "triggers": 3, "_tasks": 4, "sensors": 5, "operators": 5, "links": 5}
ROOT_FLOOR = 1
#: Deprecated import paths: each warns and names its successor (and imports only that).
DEPRECATED = {
    f"{PACKAGE}.package": f"{PACKAGE}.packages",
    f"{PACKAGE}.utils.compat": f"{PACKAGE}.version_compat",
    f"{PACKAGE}.wire.listing": f"{PACKAGE}.listing",
    f"{PACKAGE}.wire.limits": f"{PACKAGE}._wire.limits",
}
DEPRECATED_PACKAGES = {f"{PACKAGE}.utils", f"{PACKAGE}.wire"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _provider_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PROVIDER.rglob("*.py"))}


def _is_public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split("."))


def _is_deprecated(module: str) -> bool:
    return module in DEPRECATED or module in DEPRECATED_PACKAGES


def _floor(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1 or (len(parts) == 2 and (PROVIDER / f"{parts[1]}.py").is_file()):
        return ROOT_FLOOR
    assert parts[1] in FLOORS, f"{module}: folder {parts[1]!r} has no floor in FLOORS (add it)"
    return FLOORS[parts[1]]


def _imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every absolute import in the file (nested and lazy ones too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (use absolute ones)"
            assert node.module is not None
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def _targets(module: str, names: list[str]) -> list[str]:
    """The provider modules an import reaches (``from pkg import mod`` reaches ``pkg.mod``)."""
    modules = _provider_modules()
    reached = [f"{module}.{n}" for n in names if f"{module}.{n}" in modules]
    return reached or [module]


def _is_airflow(name: str) -> bool:
    return name == "airflow" or name.startswith("airflow.")


def _loaded_after(prelude: str, modules: list[str]) -> list[str]:
    """Modules that importing ``modules`` adds to ``sys.modules`` after ``prelude`` ran."""
    script = (
        "import importlib, json, sys\n"
        f"{prelude}\n"
        "before = set(sys.modules)\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- floors --------------------------------------------------------------------------------------
def test_no_import_runs_upward() -> None:
    upward = []
    for module, path in _provider_modules().items():
        if _is_deprecated(module):
            continue
        for imported, names in _imports_of(path):
            if not imported.startswith(PACKAGE):
                continue
            for target in _targets(imported, names):
                if _floor(target) > _floor(module):
                    upward.append(f"{module} -> {target}")
    assert upward == []


def test_the_wire_layer_imports_nothing_of_the_package_outside_itself() -> None:
    outside = [
        f"{module} -> {imported}"
        for module, path in _provider_modules().items()
        if module.startswith(f"{PACKAGE}._wire")
        for imported, _ in _imports_of(path)
        if imported.split(".")[0] in (PACKAGE, "metastudio_emulator", "airflow")
        and not imported.startswith(f"{PACKAGE}._wire")
    ]
    assert outside == []


def test_tasks_and_links_stay_off_the_wire_layer_and_nothing_imports_the_emulator() -> None:
    for module, path in _provider_modules().items():
        imports = [i for i, _ in _imports_of(path)]
        assert not [i for i in imports if i.startswith("metastudio_emulator")], module
        if module.split(".")[1:2] in (["sensors"], ["operators"], ["links"]):
            assert not [i for i in imports if i.startswith(f"{PACKAGE}._wire")], module


@pytest.mark.parametrize("root", [PROVIDER / "_wire", EMULATOR], ids=["_wire", "emulator"])
def test_wire_layer_and_emulator_load_no_airflow(root: Path) -> None:
    loaded = _loaded_after("", [_module_name(p) for p in sorted(root.rglob("*.py")) if p.stem != "__main__"])
    assert len(loaded) > 20  # the modules really were imported
    assert [m for m in loaded if _is_airflow(m)] == []
    if root != EMULATOR:
        assert [m for m in loaded if m.startswith("metastudio_emulator")] == []


# -- the public surface --------------------------------------------------------------------------
def _public_modules() -> list[str]:
    return [m for m in _provider_modules() if _is_public(m) and not _is_deprecated(m)]


def _declared_all(module: str) -> list[str] | None:
    imported = importlib.import_module(module)
    names = getattr(imported, "__all__", None)
    return None if names is None else list(names)


@pytest.mark.parametrize("module", _public_modules())
def test_each_public_module_lists_its_api_in_all(module: str) -> None:
    names = _declared_all(module)
    assert names is not None, f"{module} has no __all__"
    imported = importlib.import_module(module)
    assert [n for n in names if not hasattr(imported, n)] == []
    assert len(set(names)) == len(names)


def _python_blocks(markdown: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown.read_text(), flags=re.S)


def _documents() -> list[Path]:
    """What users read: the README and every page of the docs."""
    pages = [p for p in sorted((REPO / "docs").rglob("*.md")) if "_build" not in p.parts]
    return [REPO / "README.md", *pages]


def _documented_code() -> list[tuple[str, str]]:
    """``(where, source)`` of the code users copy: the example DAGs, the README's and the docs' blocks."""
    code = [(str(p.relative_to(REPO)), p.read_text()) for p in sorted((REPO / "dags").glob("*.py"))]
    for document in _documents():
        where = document.relative_to(REPO)
        code += [(f"{where} block {i}", block) for i, block in enumerate(_python_blocks(document))]
    return code


def test_dags_the_readme_and_the_docs_import_public_names_only() -> None:
    private = []
    for where, source in _documented_code():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                private += [
                    f"{where}: import {a.name}"
                    for a in node.names
                    if a.name.startswith(PACKAGE) and not _is_public(a.name)
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE):
                module = node.module or ""
                names = [a.name for a in node.names]
                public = _declared_all(module) if _is_public(module) and not _is_deprecated(module) else []
                private += [f"{where}: from {module} import {n}" for n in names if n not in (public or [])]
    assert private == []


def test_every_package_path_the_readme_and_the_docs_name_resolves() -> None:
    text = "\n".join(document.read_text() for document in _documents())
    paths = sorted(set(re.findall(rf"\b{PACKAGE}(?:\.[A-Za-z_][A-Za-z0-9_]*)+", text)))
    assert len(paths) > 10
    unresolved = []
    for path in paths:
        parts = path.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                unresolved.append(path)
            break
    assert unresolved == []


@pytest.mark.parametrize(("old", "new"), sorted(DEPRECATED.items()))
def test_each_deprecated_path_warns_and_names_the_new_one(old: str, new: str) -> None:
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=re.escape(new)):
        importlib.import_module(old)


# -- what a DAG file's import costs --------------------------------------------------------------
def test_dag_file_imports_load_no_http_stack_no_hook_and_no_trigger_base() -> None:
    loaded = _loaded_after(
        "import airflow.sdk",
        [
            f"{PACKAGE}.sensors.voice_training",
            f"{PACKAGE}.operators.voice_training",
            f"{PACKAGE}.operators.voice_assessment",
        ],
    )
    assert f"{PACKAGE}.sensors.voice_training" in loaded
    heavy = [
        m
        for m in loaded
        if m.split(".")[0] in ("requests", "httpx", "urllib3", "httpcore")
        or m in (f"{PACKAGE}.hooks.voice_training", "airflow.triggers.base")
    ]
    assert heavy == []
