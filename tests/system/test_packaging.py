"""The package as an index would publish it: build, check, install without extras, discover.

Builds the sdist and the wheel (``uv build``), checks them with ``twine check --strict``, looks
inside (LICENSE and CHANGELOG shipped, no tests in the sdist, SPDX license, Airflow bounded, no
development tool in the published requirements), installs the wheel without extras into a fresh
virtual environment beside Airflow (the running environment's versions as constraints, so uv's
cache serves it), and asks Airflow's CLI there for the provider, its hook, connection type and
extra link; importing the emulator there fails with an ImportError naming its extra.
"""

from __future__ import annotations

import email
import importlib.metadata
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_voicetraining import CONN_TYPE, __version__

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
DIST = "airflow_provider_voicetraining"
UV = str(Path(sys.executable).with_name("uv"))
#: what a published requirement must never be
DEV_TOOLS = ("pytest", "ruff", "mypy", "playwright", "hypothesis", "sphinx", "twine", "psycopg2", "celery")


def _run(*cmd: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, (
        f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _install(python: str, *args: str) -> None:
    _run(UV, "pip", "install", "--quiet", "--python", python, *args)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    _run(UV, "build", "--quiet", "--sdist", "--wheel", "--out-dir", str(out), str(REPO))
    (sdist,) = out.glob(f"{DIST}-{__version__}.tar.gz")
    (wheel,) = out.glob(f"{DIST}-{__version__}-py3-none-any.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def installed(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A fresh venv with Airflow and the wheel, no extras; the environment to run its CLI in."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    _run(UV, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = str(venv / "bin" / "python")
    # the running environment's versions as constraints: the same resolution, from uv's cache
    frozen = _run(UV, "pip", "freeze", "--python", sys.executable)
    constraints = root / "constraints.txt"
    constraints.write_text(
        "\n".join(
            line
            for line in frozen.splitlines()
            if line and not line.startswith(("-e", "airflow-provider-voicetraining")) and " @ " not in line
        )
    )
    airflow = importlib.metadata.version("apache-airflow")
    _install(python, "--constraint", str(constraints), f"apache-airflow=={airflow}", str(built["wheel"]))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    env.update(
        AIRFLOW_HOME=str(root / "airflow-home"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR",
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    yield {"python": python, "airflow": str(venv / "bin" / "airflow"), "root": str(root), **env}


def _cli_env(installed: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in installed.items() if k not in ("python", "airflow", "root")}


def _json_list(output: str) -> list[dict[str, object]]:
    for line in output.splitlines():
        if line.startswith("[{") or line == "[]":
            return json.loads(line)  # type: ignore[no-any-return]
    raise AssertionError(f"no JSON list in: {output[-2000:]}")


def test_twine_accepts_both_distributions(built: dict[str, Path]) -> None:
    _run(sys.executable, "-m", "twine", "check", "--strict", str(built["sdist"]), str(built["wheel"]))


def test_the_sdist_ships_license_and_changelog_and_no_tests(built: dict[str, Path]) -> None:
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    assert [n for n in names if n.startswith(("tests/", "docs/", "dags/", "benchmarks/", "tools/"))] == []


def test_the_wheel_metadata_is_ready_to_publish(built: dict[str, Path]) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = wheel.namelist()
        metadata = email.message_from_bytes(wheel.read(f"{DIST}-{__version__}.dist-info/METADATA"))
    assert f"{DIST}-{__version__}.dist-info/licenses/LICENSE" in names
    assert [n for n in names if n.startswith("tests/")] == []
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    classifiers = metadata.get_all("Classifier") or []
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in classifiers)
    assert "Framework :: Apache Airflow :: Provider" in classifiers
    requires = metadata.get_all("Requires-Dist") or []
    airflow = [r for r in requires if r.startswith("apache-airflow")]
    assert airflow == ["apache-airflow<3.4,>=3.0"] or airflow == ["apache-airflow>=3.0,<3.4"]
    assert [r for r in requires if r.split()[0].split(";")[0].lower().startswith(DEV_TOOLS)] == []
    assert metadata.get_all("Provides-Extra") == ["emulator"]


def test_airflow_lists_the_provider_its_hook_and_extra_link(installed: dict[str, str]) -> None:
    env = _cli_env(installed)
    provider = _json_list(
        _run(
            installed["airflow"], "providers", "get", "airflow-provider-voicetraining", "-o", "json", env=env
        )
    )
    assert provider and __version__ in json.dumps(provider)
    providers = _json_list(_run(installed["airflow"], "providers", "list", "-o", "json", env=env))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-voicetraining"]
    assert [p["version"] for p in ours] == [__version__]
    hooks = _json_list(_run(installed["airflow"], "providers", "hooks", "-o", "json", env=env))
    hook = [h for h in hooks if h["connection_type"] == CONN_TYPE]
    assert [h["class"] for h in hook] == [
        "airflow_provider_voicetraining.hooks.voice_training.VoiceTrainingHook"
    ]
    links = _json_list(_run(installed["airflow"], "providers", "links", "-o", "json", env=env))
    assert "airflow_provider_voicetraining.links.voice_training.VoiceTrainingJobLink" in {
        link["extra_link_class_name"] for link in links
    }


def test_the_emulator_without_its_extra_names_the_extra(
    built: dict[str, Path], installed: dict[str, str], tmp_path: Path
) -> None:
    # Airflow itself depends on starlette, uvicorn and cryptography, so beside Airflow the
    # emulator imports; without them (the wheel and the provider's own light requirements only,
    # no Airflow: the emulator never imports it) the import must name the extra.
    venv = tmp_path / "bare"
    _run(UV, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = str(venv / "bin" / "python")
    constraints = str(Path(installed["root"]) / "constraints.txt")
    _install(python, "--no-deps", str(built["wheel"]))
    _install(python, "--constraint", constraints, "httpx", "requests", "pendulum")
    result = subprocess.run(
        [python, "-c", "import metastudio_emulator"],
        env=_cli_env(installed),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: The MetaStudio emulator needs its extra"), result.stderr[-2000:]
    assert "pip install 'airflow-provider-voicetraining[emulator]'" in last
