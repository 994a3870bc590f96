"""Test environment: a private AIRFLOW_HOME and HOME, and the emulator on loopback.

Airflow reads its configuration when first imported, so the environment is set here, at
conftest import, before any test module imports Airflow.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SANDBOX = tempfile.mkdtemp(prefix="voicetraining-tests-")
REPO = Path(__file__).resolve().parent.parent
#: dag.test() only runs DAGs inside [core] dags_folder: the examples and the test DAGs.
DAGS_FOLDER = Path(_SANDBOX) / "dags"
DAGS_FOLDER.mkdir()
for _source in [*sorted((REPO / "dags").glob("*.py")), *sorted((REPO / "tests" / "dags").glob("*.py"))]:
    shutil.copy(_source, DAGS_FOLDER / _source.name)
os.environ.update(
    {
        # huaweicloudsdkcore writes ~/.huaweicloud on import; Airflow writes its home.
        "HOME": os.path.join(_SANDBOX, "home"),
        "AIRFLOW_HOME": os.path.join(_SANDBOX, "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "VOICE_TRAINING_POLL_INTERVAL": "0.2",
    }
)
for _var in list(os.environ):
    if _var.startswith("AIRFLOW_CONN_"):
        del os.environ[_var]
# Bytecode caches, as after `pip install`: with PYTHONDONTWRITEBYTECODE=1 (set on some CI
# machines) every xdist worker and every subprocess (Airflow's CLI, fresh interpreters that
# measure memory, dag.test() imports) recompiled every module it imported, Airflow's included:
# about a third of the unit tests' CPU time. The cache goes into the venv running the tests
# (removed with it), never into the source tree or site-packages.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None or sys.dont_write_bytecode:
    os.environ.setdefault("PYTHONPYCACHEPREFIX", os.path.join(sys.prefix, "pycache"))
    sys.dont_write_bytecode = False
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]
os.makedirs(os.environ["HOME"], exist_ok=True)
os.makedirs(os.environ["AIRFLOW_HOME"], exist_ok=True)

import pytest  # noqa: E402

from metastudio_emulator import EmulatorConfig, EmulatorServer  # noqa: E402

#: fast retries for tests (the defaults are 1 s base, 30 s cap)
FAST_RETRY = {"retry_delay": 0.01, "retry_max_delay": 0.05}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Print the random order's seed, even under ``-q`` (pytest-randomly's header is hidden then)."""
    config = session.config
    seed = getattr(config.option, "randomly_seed", None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if seed is None or reporter is None or hasattr(config, "workerinput"):
        return
    reporter.write_line(f'random test order: PYTEST_ARGS="--randomly-seed={seed}" repeats it')


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SANDBOX, ignore_errors=True)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(time_scale=0.01, seed=1)) as server:
        yield server


def _reset_around(server: EmulatorServer) -> Iterator[EmulatorServer]:
    server.control.reset()
    yield server
    server.control.reset()


@pytest.fixture
def emu(emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """The shared emulator, reset before each test (jobs, faults, request log, tokens, clock)."""
    yield from _reset_around(emulator_server)


@pytest.fixture(scope="session")
def slow_emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(time_scale=0.3, seed=3)) as server:
        yield server


@pytest.fixture
def slow_emu(slow_emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    """An emulator whose jobs take about 6 s (still running when a retry starts), reset per test."""
    yield from _reset_around(slow_emulator_server)


@pytest.fixture(scope="session")
def tls_emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(time_scale=0.01, seed=2, tls=True)) as server:
        yield server


@pytest.fixture
def tls_emu(tls_emulator_server: EmulatorServer) -> Iterator[EmulatorServer]:
    tls_emulator_server.control.reset()
    yield tls_emulator_server


def conn_json(emulator: EmulatorServer, auth_type: str = "aksk", **extra: Any) -> str:
    merged = {**FAST_RETRY, **extra}
    return emulator.connection_json(auth_type=auth_type, **merged)


@pytest.fixture
def use_conn(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``use_conn(emulator, auth_type="aksk", conn_id="metastudio_default", **extra)`` installs
    an ``AIRFLOW_CONN_*`` variable for the test and returns the connection dict."""

    def install(
        emulator: EmulatorServer,
        auth_type: str = "aksk",
        conn_id: str = "metastudio_default",
        login: str | None = None,
        password: str | None = None,
        extra_overrides: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        value = json.loads(conn_json(emulator, auth_type, **extra))
        value["extra"].update(extra_overrides or {})
        if login is not None:
            value["login"] = login
        if password is not None:
            value["password"] = password
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        return value  # type: ignore[no-any-return]

    return install


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    """Each test starts with no cached IAM token and an idle client-side rate limiter."""
    from airflow_provider_voicetraining._wire.rate_limits import RATE_LIMITER
    from airflow_provider_voicetraining._wire.tokens import TOKENS

    TOKENS.clear()
    RATE_LIMITER.clear()
    yield
    TOKENS.clear()
    RATE_LIMITER.clear()


@pytest.fixture(scope="session")
def airflow_db(tmp_path_factory: pytest.TempPathFactory) -> None:
    """A migrated SQLite metadata database (dag.test() needs one), one file per xdist worker.

    Migrating costs seconds of CPU: under pytest-xdist the first worker to get here migrates
    its database and keeps a copy in the run's shared temporary directory (under a lock); the
    others copy that instead of migrating.
    """
    from airflow import __version__ as airflow_version
    from airflow import settings
    from airflow.utils.db import initdb

    database = settings.engine.url.database
    if os.environ.get("PYTEST_XDIST_WORKER") is None or settings.engine.url.get_backend_name() != "sqlite":
        initdb()
        return
    # the run's temporary root, shared by its workers (pytest-of-<user>/pytest-<n>)
    template = tmp_path_factory.getbasetemp().parent / f"airflow-{airflow_version}.db"
    with open(f"{template}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            initdb()
            _copy_sqlite(Path(str(database)), template.with_suffix(".partial"))
            template.with_suffix(".partial").rename(template)  # whole or absent
        else:
            _copy_sqlite(template, Path(str(database)))
            settings.engine.dispose()


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database with SQLite's online backup (safe with connections open on it)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):  # type: ignore[no-untyped-def]
    from tests.airflow_helpers import load_dagbag

    bag = load_dagbag()
    return bag
