"""Real Airflow 3 components on loopback, for the system tests.

One temporary ``AIRFLOW_HOME`` shared by ``airflow api-server``, ``airflow scheduler``,
``airflow dag-processor`` and ``airflow triggerer``, each started from the ``airflow`` CLI of the
interpreter running the tests, in its own process group (``start_new_session=True``), with
stdout/stderr in ``$AIRFLOW_HOME/component-logs/``. SQLite + LocalExecutor; REST without a token
(``simple_auth_manager_all_admins``). A :class:`DbSampler` thread watches the ``trigger`` and
``task_instance`` tables while runs are in flight: trigger rows are deleted as soon as their task
resumes, so what the triggerer held is only visible meanwhile.

Everything here is harness; the assertions live in the tests.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet

from tools.playground import sqlite_url

REPO = Path(__file__).resolve().parents[2]
SYSTEM_DAGS = Path(__file__).resolve().parent / "dags"
ARTIFACTS = REPO / ".test-artifacts"
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
#: seconds between the triggerer's heartbeats, and after which a silent triggerer counts as dead
TRIGGERER_HEARTBEAT = 1
TRIGGERER_HEALTH_THRESHOLD = 5
#: Airflow's log servers (the scheduler's, for its LocalExecutor workers, and the triggerer's)
#: listen on every interface and have no host setting: they are skipped (tests bind only
#: loopback); the api-server reads every log from the shared folder.
COMPONENT_OPTIONS: dict[str, tuple[str, ...]] = {
    "scheduler": ("--skip-serve-logs",),
    "triggerer": ("--skip-serve-logs",),
}

_LIVE_GROUPS: set[int] = set()


@atexit.register
def _kill_leftovers() -> None:
    """Last resort if the interpreter exits without running fixture finalizers."""
    for pgid in list(_LIVE_GROUPS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def airflow_command() -> list[str]:
    """The ``airflow`` CLI of the virtual environment running the tests."""
    script = Path(sys.executable).parent / "airflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


def _proc_net_address(hex_address: str) -> str:
    """An address of ``/proc/net/tcp[6]`` (hex, host byte order per 32-bit word) as text."""
    import ipaddress

    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover (a foreign process reused the id)
        return True
    return True


@dataclass
class Component:
    name: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def alive(self) -> bool:
        """Anything left of its process group (the leader is reaped first)."""
        self.popen.poll()
        return group_exists(self.pid)

    def tail(self, limit: int = 3000) -> str:
        parts = []
        for path in (self.stdout, self.stderr):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name} ---\n{path.read_text(errors='replace')[-limit:]}")
        return "\n".join(parts)


def stop_components(components: Iterable[Component], grace: float = 15.0) -> None:
    """SIGTERM every group at once, then SIGKILL whatever is left after ``grace`` seconds."""
    pending = [c for c in components if c.alive()]
    for comp in pending:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(comp.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        pending = [c for c in pending if c.alive()]
        time.sleep(0.1)
    for comp in pending:
        kill_component(comp)
    for comp in components:
        _LIVE_GROUPS.discard(comp.pid)


def kill_component(comp: Component, timeout: float = 10.0) -> None:
    """SIGKILL the whole process group and wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(comp.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while comp.alive():
        if time.monotonic() > deadline:
            raise RuntimeError(f"process group {comp.pid} ({comp.name}) survived SIGKILL")
        time.sleep(0.05)
    _LIVE_GROUPS.discard(comp.pid)


@dataclass
class TriggerSample:
    """One row of the ``trigger`` table as seen while it existed."""

    trigger_id: int
    created: str
    classpath: str
    kwargs: str
    triggerer_ids: list[int | None] = field(default_factory=list)


class DbSampler(threading.Thread):
    """Polls the metadata DB (read-only) for trigger rows and task-instance states."""

    def __init__(self, db_path: Path, interval: float = 0.25) -> None:
        super().__init__(name="airflow-db-sampler", daemon=True)
        self.db_path = db_path
        self.interval = interval
        self.lock = threading.Lock()
        self.triggers: dict[tuple[int, str], TriggerSample] = {}
        #: (dag_id, run_id, task_id) -> every state seen, and trigger ids it pointed to
        self.ti_states: dict[tuple[str, str, str], set[str]] = {}
        self.ti_triggers: dict[tuple[str, str, str], set[int]] = {}
        self.samples = 0
        self.errors = 0
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=5)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.sample()
            except sqlite3.Error:
                self.errors += 1

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)

    def triggers_of(self, dag_id: str, run_id: str, task_id: str) -> set[int]:
        with self.lock:
            return set(self.ti_triggers.get((dag_id, run_id, task_id), set()))

    def sample(self) -> None:
        with contextlib.closing(self.connect()) as con:
            triggers = con.execute("SELECT id, created_date, classpath, kwargs, triggerer_id FROM trigger")
            trigger_rows = triggers.fetchall()
            tis = con.execute("SELECT dag_id, run_id, task_id, state, trigger_id FROM task_instance")
            ti_rows = tis.fetchall()
        with self.lock:
            self.samples += 1
            for trigger_id, created, classpath, kwargs, triggerer_id in trigger_rows:
                key = (int(trigger_id), str(created))
                sample = self.triggers.setdefault(
                    key, TriggerSample(int(trigger_id), str(created), str(classpath), str(kwargs))
                )
                if not sample.triggerer_ids or sample.triggerer_ids[-1] != triggerer_id:
                    sample.triggerer_ids.append(triggerer_id)
            for dag_id, run_id, task_id, state, trigger_id in ti_rows:
                key3 = (dag_id, run_id, task_id)
                self.ti_states.setdefault(key3, set()).add(str(state))
                if trigger_id is not None:
                    self.ti_triggers.setdefault(key3, set()).add(int(trigger_id))

    def states_of(self, dag_id: str, run_id: str, task_id: str) -> set[str]:
        with self.lock:
            return set(self.ti_states.get((dag_id, run_id, task_id), set()))

    def trigger_samples(self) -> list[TriggerSample]:
        with self.lock:
            return list(self.triggers.values())


def decrypt_trigger_kwargs(fernet_key: str, stored: str) -> str:
    """The JSON text of a ``trigger.kwargs`` cell (Fernet-encrypted, or plain JSON on old rows)."""
    if stored.startswith("{"):
        return stored
    return Fernet(fernet_key.encode()).decrypt(stored.encode()).decode("utf-8")


class AirflowCluster:
    """``AirflowCluster(root, connections, extra_env)``; :meth:`start` runs everything."""

    def __init__(
        self,
        root: Path,
        connections: dict[str, str],
        extra_env: dict[str, str],
        users: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        #: simple-auth-manager users (name -> password): a login is required, REST uses a token;
        #: without users every request is an admin's (``simple_auth_manager_all_admins``)
        self.users = dict(users or {})
        self.home = root / "airflow"
        self.dags = self.home / "dags"
        self.logs = self.home / "logs"
        self.component_logs = self.home / "component-logs"
        self.db_path = self.home / "airflow.db"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.fernet_key = Fernet.generate_key().decode()
        self.startup_seconds = 0.0
        self.components: dict[str, Component] = {}
        #: components stopped or killed on purpose (their output is still scanned)
        self.retired: list[Component] = []
        self.sampler = DbSampler(self.db_path)
        self.session = requests.Session()
        self.session.trust_env = False
        self.env = self._environment(connections, extra_env)

    # -- setup -------------------------------------------------------------------------------
    def _environment(self, connections: dict[str, str], extra_env: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        python_path = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "HOME": str(self.root / "home"),
                "PYTHONPATH": os.pathsep.join(python_path),
                "PYTHONUNBUFFERED": "1",
                # temporary files of the components and their tasks go with the cluster's folder
                "TMPDIR": str(self.root / "tmp"),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlite_url(self.db_path),
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                # Airflow 3.0.6 with SQLite sometimes starts a worker before the queued state is
                # visible ("Cannot start Task Instance in invalid state scheduled", HTTP 409): the
                # try fails before any task code runs. One retry absorbs that Airflow race; the
                # tests check that exactly one try actually ran (``started_tries``).
                "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "1",
                "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                # Airflow 3.0.x puts an empty list in the "iss" claim when no issuer is set, which
                # PyJWT >= 2.10 refuses ("Issuer (iss) must be a string"): every token fails.
                "AIRFLOW__API_AUTH__JWT_ISSUER": "voicetraining-system-test",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                # Failover in seconds: the triggerer heartbeats every second, and a new triggerer
                # takes over the triggers of one whose heartbeat is older than the threshold.
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": str(TRIGGERER_HEARTBEAT),
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_HEALTH_THRESHOLD),
            }
        )
        if self.users:
            env.update(
                {
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:admin" for u in self.users),
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.root / "passwords.json"),
                }
            )
        env.update(extra_env)
        for conn_id, value in connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = value
        return env

    def dag_sources(self) -> list[Path]:
        """The DAG files this cluster runs: the example DAGs and the system-test DAGs."""
        return [*sorted((REPO / "dags").glob("*.py")), *sorted(SYSTEM_DAGS.glob("*.py"))]

    def prepare(self) -> None:
        """DAG folder (example DAGs + system-test DAGs) and a migrated SQLite database."""
        for folder in (self.dags, self.logs, self.component_logs, self.root / "home", self.root / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        if self.users:
            (self.root / "passwords.json").write_text(json.dumps(self.users))
        for source in self.dag_sources():
            shutil.copy(source, self.dags / source.name)
        with (
            open(self.component_logs / "db-migrate.out", "wb") as out,
            open(self.component_logs / "db-migrate.err", "wb") as err,
        ):
            done = subprocess.run(
                [*airflow_command(), "db", "migrate"],
                check=False,
                env=self.env,
                stdout=out,
                stderr=err,
                timeout=180,
                start_new_session=True,
            )
        if done.returncode != 0:
            tail = (self.component_logs / "db-migrate.err").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"airflow db migrate failed ({done.returncode}):\n{tail}")

    def start_component(self, role: str, *args: str, name: str | None = None) -> Component:
        """Start ``airflow <args>`` as ``role``; ``name`` (default: the role) names its output files."""
        name = name or role
        stdout = self.component_logs / f"{name}.out"
        stderr = self.component_logs / f"{name}.err"
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            popen = subprocess.Popen(
                [*airflow_command(), *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.root,
                start_new_session=True,
            )
        _LIVE_GROUPS.add(popen.pid)
        comp = Component(name, popen, stdout, stderr)
        self.components[role] = comp
        return comp

    def start(self) -> None:
        self.prepare()
        for command in ("api-server", "scheduler", "dag-processor", "triggerer"):
            self.start_component(command, command, *COMPONENT_OPTIONS.get(command, ()))
        self.sampler.start()

    def stop(self) -> list[str]:
        """Stop every component; return (and SIGKILL) any process still using this home."""
        self.sampler.stop()
        stop_components(list(self.components.values()) + self.retired)
        self.session.close()
        leftovers = [(pid, _command_line(pid)) for pid in sorted(self.process_ids())]
        for pid, _ in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return [f"{pid}: {cmd}" for pid, cmd in leftovers]

    def leftover_processes(self) -> list[tuple[int, str]]:
        """Live processes (not this one) whose environment has this cluster's ``AIRFLOW_HOME``:
        whatever escaped its process group would show up here."""
        marker = b"\0AIRFLOW_HOME=" + os.fsencode(self.home) + b"\0"
        found = []
        proc = Path("/proc")
        for entry in proc.iterdir() if proc.is_dir() else []:
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = b"\0" + (entry / "environ").read_bytes()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in environ:
                found.append((int(entry.name), cmdline.strip()))
        return found

    def process_ids(self) -> set[int]:
        """Every live process of this cluster's Airflow components: those in the session of one (each starts
        in a session of its own) and those whose environment names this cluster's home (a
        process that retitles itself with ``setproctitle``, as Airflow's components do, may
        overwrite the environment ``/proc`` shows, so neither test alone finds them all)."""
        sessions = {c.popen.pid for c in [*self.components.values(), *self.retired]}
        found = {pid for pid, _ in self.leftover_processes()}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    # fields after the command name (which may hold spaces): state, ppid, pgrp, session
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[3]) in sessions and stat[0] != "Z":
                        found.add(int(entry.name))
        return found

    def listening_sockets(self) -> list[tuple[int, str, int]]:
        """``(pid, address, port)`` of every TCP socket a process of this cluster listens on."""
        listening: dict[str, tuple[str, int]] = {}  # socket inode -> address, port
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError):
                for line in Path(table).read_text().splitlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        address, port = fields[1].split(":")
                        listening[fields[9]] = (_proc_net_address(address), int(port, 16))
        found = []
        for pid in self.process_ids():
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        target = os.readlink(fd)
                        inode = target[len("socket:[") : -1] if target.startswith("socket:[") else ""
                        if inode in listening:
                            found.append((pid, *listening[inode]))
        return found

    def all_components(self) -> list[Component]:
        return self.retired + list(self.components.values())

    def replace_triggerer(self) -> Component:
        """SIGKILL the triggerer's whole process group, then start a fresh triggerer."""
        old = self.components.pop("triggerer")
        kill_component(old)
        self.retired.append(old)
        number = 1 + sum(c.name.startswith("triggerer") for c in self.retired)
        return self.start_component(
            "triggerer", "triggerer", *COMPONENT_OPTIONS["triggerer"], name=f"triggerer-{number}"
        )

    def check_components(self) -> None:
        dead = [c for c in self.components.values() if not c.running()]
        if dead:
            raise AssertionError(
                "Airflow component(s) exited: "
                + "\n".join(f"{c.name} (exit {c.popen.returncode})\n{c.tail()}" for c in dead)
            )

    # -- readiness ---------------------------------------------------------------------------
    def wait_ready(self, dag_ids: Iterable[str], timeout: float = 120.0) -> float:
        """Wait until every component reports healthy and every DAG is known and unpaused."""
        started = time.monotonic()
        deadline = started + timeout
        wanted = set(dag_ids)
        last = ""
        while time.monotonic() < deadline:
            self.check_components()
            try:
                response = self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=5)
                if response.status_code != 200:
                    last = f"health: HTTP {response.status_code} {response.text[:500]}"
                    time.sleep(0.5)
                    continue
                health = response.json()
                healthy = all(
                    isinstance(v, dict) and v.get("status") == "healthy"
                    for k, v in health.items()
                    if k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                ) and {"metadatabase", "scheduler", "triggerer"} <= set(health)
                last = json.dumps(health)
                if healthy:
                    errors = self.get("/api/v2/importErrors")
                    if errors.get("total_entries"):
                        raise AssertionError(f"DAG import errors: {json.dumps(errors, indent=1)}")
                    known = {d for d in wanted if self._dag_ready(d)}
                    if known == wanted:
                        return time.monotonic() - started
                    last = f"healthy; DAGs missing: {sorted(wanted - known)}"
            except requests.RequestException as err:
                last = repr(err)
            time.sleep(0.5)
        raise AssertionError(f"Airflow not ready after {timeout}s: {last}")

    def _dag_ready(self, dag_id: str) -> bool:
        response = self.request("GET", f"/api/v2/dags/{dag_id}")
        return response.status_code == 200 and response.json().get("is_paused") is False

    # -- REST --------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        if self.users and "Authorization" not in self.session.headers:
            name, password = next(iter(self.users.items()))
            self.session.headers["Authorization"] = f"Bearer {self.token(name, password)}"
        return self.session.request(method, self.base_url + path, timeout=30, **kwargs)

    def token(self, username: str, password: str) -> str:
        """A JWT of the simple auth manager (``POST /auth/token``)."""
        response = requests.post(
            f"{self.base_url}/auth/token", json={"username": username, "password": password}, timeout=30
        )
        if response.status_code >= 300:
            raise AssertionError(f"POST /auth/token: HTTP {response.status_code} {response.text[:500]}")
        return str(response.json()["access_token"])

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.request("GET", path, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"GET {path}: HTTP {response.status_code} {response.text}")
        return response.json()

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> str:
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        response = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        if response.status_code >= 400:
            raise AssertionError(f"triggering {dag_id}: HTTP {response.status_code} {response.text}")
        return str(response.json()["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        data = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti for ti in data["task_instances"]}

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {task: ti["state"] for task, ti in self.task_instances(dag_id, run_id).items()}

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int | None = None
    ) -> Any:
        """The XCom value through REST (of one mapped instance if ``map_index`` is given), or
        ``KeyError`` when there is none."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        params = None if map_index is None else {"map_index": map_index}
        response = self.request("GET", path, params=params)
        if response.status_code == 404:
            raise KeyError(f"no XCom {key!r} for {dag_id}/{run_id}/{task_id}")
        if response.status_code >= 400:
            raise AssertionError(f"GET {path}: HTTP {response.status_code} {response.text}")
        value = response.json()["value"]
        # The API returns the stored serialized form: JSON text on some versions.
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value

    def wait_for_runs(
        self, runs: Iterable[tuple[str, str]], timeout: float, poll: float = 0.5
    ) -> dict[tuple[str, str], str]:
        pending = set(runs)
        done: dict[tuple[str, str], str] = {}
        deadline = time.monotonic() + timeout
        while pending:
            self.check_components()
            for dag_id, run_id in sorted(pending):
                state = self.run_state(dag_id, run_id)
                if state in TERMINAL_RUN_STATES:
                    done[(dag_id, run_id)] = state
                    pending.discard((dag_id, run_id))
            if not pending:
                break
            if time.monotonic() > deadline:
                detail = {f"{d}/{r}": self.task_states(d, r) for d, r in sorted(pending)}
                raise AssertionError(f"runs not finished after {timeout}s: {json.dumps(detail, indent=1)}")
            time.sleep(poll)
        return done

    # -- DB ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        with contextlib.closing(self.sampler.connect()) as con:
            yield con

    def triggerer_job_ids(self) -> list[int]:
        with self.db() as con:
            rows = con.execute("SELECT id FROM job WHERE job_type = 'TriggererJob' ORDER BY id").fetchall()
        return [int(r[0]) for r in rows]

    def live_trigger_owners(self) -> dict[int, int | None]:
        with self.db() as con:
            rows = con.execute("SELECT id, triggerer_id FROM trigger").fetchall()
        return {int(r[0]): (None if r[1] is None else int(r[1])) for r in rows}

    # -- logs --------------------------------------------------------------------------------
    def task_log_dir(self, dag_id: str, run_id: str, task_id: str) -> Path:
        return self.logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"

    def started_tries(self, dag_id: str, run_id: str, task_id: str) -> list[int]:
        """Tries whose task log is not empty: the ones where task code actually ran."""
        return sorted(
            int(path.name.split("=", 1)[1].split(".", 1)[0])
            for path in self.task_log_dir(dag_id, run_id, task_id).glob("attempt=*.log")
            if ".log.trigger." not in path.name and path.stat().st_size > 0
        )

    def trigger_logs(self, dag_id: str, run_id: str, task_id: str) -> dict[int, Path]:
        """Trigger log files of a task by triggerer job id (``attempt=N.log.trigger.<job id>.log``)."""
        found = {}
        for path in self.task_log_dir(dag_id, run_id, task_id).glob("attempt=*.log.trigger.*.log"):
            found[int(path.name.rsplit(".", 2)[-2])] = path
        return found

    def explain(self, dag_id: str, run_id: str) -> str:
        """What a failure message needs to be diagnosed from CI's output alone: the task states,
        the last error events of the run's logs, the tail of every log of a failed task (it may
        hold no error event: a task the executor failed never ran its code), and the component
        lines naming the run (the logs are Airflow's, already masked)."""
        states = self.task_states(dag_id, run_id)
        lines = [f"{dag_id}/{run_id}: {json.dumps(states)}"]
        failed = {task for task, state in states.items() if state in ("failed", "up_for_retry")}
        run_dir = self.logs / f"dag_id={dag_id}" / f"run_id={run_id}"
        for path in sorted(run_dir.rglob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            task_dir = next((p.name for p in path.parents if p.name.startswith("task_id=")), "")
            if task_dir.removeprefix("task_id=") in failed:
                chosen = text[-15:]
            else:
                chosen = [x for x in text if '"level":"error"' in x][-2:]
            lines += [f"  {path.relative_to(run_dir)}: {line[:800]}" for line in chosen]
        for comp in self.all_components():
            with contextlib.suppress(OSError):
                named = [
                    x
                    for path in (comp.stdout, comp.stderr)
                    for x in path.read_text(errors="replace").splitlines()
                    if run_id in x
                ]
                lines += [f"  [{comp.name}] {line[:800]}" for line in named[-8:]]
        return "\n".join(lines)

    # -- artifacts ---------------------------------------------------------------------------
    def save_artifacts(self, extra_files: dict[str, str]) -> Path:
        """Copy the whole home (logs, component output, DB) to ``.test-artifacts/system-<ts>/``."""
        for name, content in extra_files.items():
            with contextlib.suppress(OSError):
                (self.home / name).write_text(content)
        target = ARTIFACTS / f"system-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.home, target, symlinks=True, ignore_dangling_symlinks=True)
        return target


def wait_until(what: str, check: Any, timeout: float, cluster: AirflowCluster, interval: float = 0.2) -> Any:
    """Poll ``check()`` until it returns something truthy (and return it), failing fast when a
    component of ``cluster`` died and with ``what`` in the message after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        cluster.check_components()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
    return value
