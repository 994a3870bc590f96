"""Fixtures of the system tests: the emulator in its own process over TLS, and one set of real
Airflow components shared by every system test module (package scope: starting them costs more
than most tests, and they stop as soon as the last system test ran), always stopped (also on
failure or Ctrl-C). When a system test failed or did not finish, the whole
Airflow home is copied to ``.test-artifacts/system-<timestamp>/`` and the path is printed at the
end of the session."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from metastudio_emulator import EmulatorConfig, EmulatorProcess, spawn_emulator_process
from tests.system.cluster import AirflowCluster

#: a basic job runs 19 s of emulated lifecycle at time_scale 1: long enough that every sensor
#: finds it unfinished at its first poke and defers to the triggerer
EMULATOR_TIME_SCALE = 1.0
#: VOICE_TRAINING_POLL_INTERVAL for the DAGs (read at parse time) and the triggers
POLL_INTERVAL = "0.5"
#: fast client retries: faults are not under test here
CONN_EXTRA: dict[str, Any] = {"timeout": 10, "max_retries": 3, "retry_delay": 0.2, "retry_max_delay": 1}

PIPELINE = "example_voice_training_pipeline"
EXISTING = "example_voice_training_existing_job"
PLATFORM = "example_voice_training_platform"
AUTH_MODES = "system_voice_training_auth_modes"
RETRIES = "system_voice_training_retries"
DAG_IDS = (PIPELINE, EXISTING, PLATFORM, AUTH_MODES, RETRIES)
#: A worker that dies is noticed by the scheduler when its task stops heartbeating: seconds until
#: then (default 300), how often the scheduler looks (10), and the supervisor's heartbeat (5).
HEARTBEAT_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "12",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
}

_OUTCOMES = pytest.StashKey[dict[str, dict[str, set[str]]]]()
_ARTIFACTS = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    outcomes = item.config.stash.setdefault(_OUTCOMES, {})
    module = outcomes.setdefault(item.module.__name__ if item.module else "", {"started": set(), "ok": set()})
    module["started"].add(item.nodeid)
    if report.failed:
        module.setdefault("failed", set()).add(item.nodeid)
    elif report.when == "call" or report.skipped:
        module["ok"].add(item.nodeid)
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the production-shape test (its own servers and components) before the other system
    tests, whose package-scoped cluster would otherwise still be running beside it."""
    system = [i for i, item in enumerate(items) if item.nodeid.startswith("tests/system/")]
    if not system:
        return
    block = [items[i] for i in system]
    first = [item for item in block if item.get_closest_marker("production")]
    rest = [item for item in block if not item.get_closest_marker("production")]
    for position, item in zip(system, first + rest, strict=True):
        items[position] = item


def _system_tests_failed(request: pytest.FixtureRequest) -> bool:
    outcomes = request.config.stash.get(_OUTCOMES, {})
    modules = [m for name, m in outcomes.items() if name.startswith("tests.system")]
    if not modules:
        return True  # the fixture was set up but no test reported: interrupted
    return any(bool(m.get("failed")) or bool(m["started"] - m["ok"]) for m in modules)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in terminalreporter.config.stash.get(_ARTIFACTS, []):
        terminalreporter.write_line(f"system test artifacts (Airflow home, logs, DB): {path}", red=True)


@pytest.fixture(scope="package")
def system_emulator() -> Iterator[EmulatorProcess]:
    with spawn_emulator_process(EmulatorConfig(tls=True, time_scale=EMULATOR_TIME_SCALE, seed=11)) as emu:
        yield emu


@pytest.fixture(scope="package")
def cluster(request: pytest.FixtureRequest, system_emulator: EmulatorProcess) -> Iterator[AirflowCluster]:
    with running_cluster(request, system_emulator) as airflow:
        yield airflow


@contextlib.contextmanager
def running_cluster(
    request: pytest.FixtureRequest,
    emu: EmulatorProcess,
    *,
    extra_env: dict[str, str] | None = None,
    users: dict[str, str] | None = None,
    dag_ids: tuple[str, ...] = DAG_IDS,
) -> Iterator[AirflowCluster]:
    """Real components against ``emu`` (the module's cluster), always stopped; the home is kept
    under ``.test-artifacts/`` when a test of the module failed."""
    assert emu.ca_file and emu.url.startswith("https://")
    connections = {
        "metastudio_default": emu.connection_json(auth_type="aksk_temporary", **CONN_EXTRA),
        "metastudio_password": emu.connection_json(auth_type="password", **CONN_EXTRA),
        "metastudio_aksk": emu.connection_json(auth_type="aksk", **CONN_EXTRA),
    }
    root = Path(tempfile.mkdtemp(prefix="voicetraining-system-"))
    env = {"VOICE_TRAINING_POLL_INTERVAL": POLL_INTERVAL, **HEARTBEAT_ENV, **(extra_env or {})}
    airflow = AirflowCluster(root, connections, env, users=users)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        stack.callback(_save_artifacts_on_failure, request, airflow, emu)
        stack.callback(_stop, airflow)
        airflow.start()
        airflow.startup_seconds = airflow.wait_ready(dag_ids)
        yield airflow


def _stop(airflow: AirflowCluster) -> None:
    leftovers = airflow.stop()
    assert not leftovers, f"processes outlived their component's process group (killed now): {leftovers}"


def _save_artifacts_on_failure(
    request: pytest.FixtureRequest, airflow: AirflowCluster, emu: EmulatorProcess
) -> None:
    if not _system_tests_failed(request):
        return
    extra: dict[str, str] = {"emulator-stderr.txt": emu.stderr_tail(limit=200_000)}
    try:
        extra["emulator-requests.json"] = json.dumps(emu.control.requests(), indent=1)
        extra["emulator-jobs.json"] = json.dumps(emu.control.jobs(), indent=1)
    except Exception as err:  # the emulator may be what broke
        extra["emulator-control-error.txt"] = repr(err)
    path = airflow.save_artifacts(extra)
    request.config.stash.setdefault(_ARTIFACTS, []).append(str(path))
    print(f"\nsystem test artifacts: {path}")
