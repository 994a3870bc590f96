"""The import rules of the layout, pinned: each check runs in a fresh interpreter.

* the wire layer and the emulator import no Airflow (the emulator runs without it);
* the provider never imports the emulator, and the wire layer never imports the Airflow layer;
* importing the sensor and operator modules (what a DAG file does on every parse) loads no
  ``requests``, no ``httpx`` and not the hook.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROVIDER = REPO / "airflow_provider_voicetraining"
EMULATOR = REPO / "metastudio_emulator"


def _modules(root: Path) -> list[str]:
    names = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


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


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _is_airflow(name: str) -> bool:
    return name == "airflow" or name.startswith("airflow.")


@pytest.mark.parametrize("root", [PROVIDER / "wire", EMULATOR], ids=["wire", "emulator"])
def test_wire_layer_and_emulator_import_no_airflow(root: Path) -> None:
    loaded = _loaded_after("", _modules(root))
    assert len(loaded) > 20  # the modules really were imported
    assert [m for m in loaded if _is_airflow(m)] == []
    if root != EMULATOR:
        assert [m for m in loaded if m.startswith("metastudio_emulator")] == []


def test_provider_source_never_imports_the_emulator_and_wire_never_the_airflow_layer() -> None:
    airflow_layer = ("hooks", "sensors", "triggers", "operators", "links", "utils", "errors")
    for path in PROVIDER.rglob("*.py"):
        imports = _imports_of(path)
        assert not [i for i in imports if i.startswith("metastudio_emulator")], path
        if "wire" in path.parts:
            upward = [
                i
                for i in imports
                if i.startswith("airflow_provider_voicetraining.") and i.split(".")[1] in airflow_layer
            ]
            assert upward == [], f"{path} imports the Airflow layer: {upward}"
            assert not [i for i in imports if _is_airflow(i)], path


def test_dag_file_imports_load_no_http_stack_and_no_hook() -> None:
    loaded = _loaded_after(
        "import airflow.sdk",
        [
            "airflow_provider_voicetraining.sensors.voice_training",
            "airflow_provider_voicetraining.operators.voice_training",
            "airflow_provider_voicetraining.operators.voice_assessment",
        ],
    )
    assert "airflow_provider_voicetraining.sensors.voice_training" in loaded
    heavy = [
        m
        for m in loaded
        if m.split(".")[0] in ("requests", "httpx", "urllib3", "httpcore")
        or m == "airflow_provider_voicetraining.hooks.voice_training"
    ]
    assert heavy == []
