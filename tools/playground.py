"""``make playground``: the example DAGs in Airflow's UI against the local emulator.

Starts, all on loopback: the MetaStudio emulator, then Airflow's api-server, scheduler,
dag-processor and triggerer (LocalExecutor, SQLite) with the provider and the example DAGs of
``dags/`` (read in place: edit them and the dag-processor picks the change up). The
``metastudio_default`` connection to the emulator is stored in the metadata database, so the
Connections page lists it and its Test button works. Prints the URL, the login and how to stop.

Everything it writes stays in ``.playground/`` (Airflow home, database, component logs, temporary
files); Ctrl-C or ``make playground-stop`` (``python -m tools.playground --stop``) stops every
process it started. ``source .playground/env.sh`` points the ``airflow`` CLI at it.

Not ``airflow standalone``: its log servers listen on every interface; here the scheduler and the
triggerer skip them (the api-server reads the logs from the shared folder).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FOLDER = REPO / ".playground"
STATE = FOLDER / "state.json"
USER, PASSWORD = "admin", "admin"
DEFAULT_PORT = 8080
#: the emulator's pace: a basic job trains in about 19 s at time scale 1, long enough to watch
#: the wait deferred in the triggerer; the DAGs and triggers poll every 2 s
EMULATOR_TIME_SCALE = 1.0
POLL_INTERVAL = "2"
COMPONENTS = (
    ("api-server",),
    ("scheduler", "--skip-serve-logs"),
    ("dag-processor",),
    ("triggerer", "--skip-serve-logs"),
)


class Stop(Exception):
    """SIGTERM or SIGINT arrived: stop everything."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _port(wanted: int) -> int:
    """``wanted`` if it is free on loopback, else any free port."""
    for candidate in (wanted, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # as the api-server binds: a port left in TIME_WAIT by a stopped playground is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def _airflow() -> list[str]:
    script = Path(sys.executable).parent / "airflow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "airflow"]


#: how long an Airflow component waits for SQLite's write lock before "database is locked"
#: (SQLite's default, 5 s, is too short when four components write on a busy two-core machine)
SQLITE_LOCK_WAIT_SECONDS = 60


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of the SQLite database at ``path`` (absolute), with a long lock wait."""
    return f"sqlite:///{path}?timeout={SQLITE_LOCK_WAIT_SECONDS}"


def _environment(home: Path, port: int, fernet_key: str) -> dict[str, str]:
    """What every component and the CLI share (the Airflow settings a newcomer would guess)."""
    url = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": fernet_key,
        # the example DAGs chain through the voices' asset events: none may start paused
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlite_url(home / "airflow.db"),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        # 3.0.x puts an empty list in the "iss" claim without an issuer (PyJWT refuses it)
        "AIRFLOW__API_AUTH__JWT_ISSUER": "voicetraining-playground",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "5",
        "VOICE_TRAINING_POLL_INTERVAL": POLL_INTERVAL,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        # temporary files (training packages, Airflow's own) stay in the playground's folder
        "TMPDIR": str(FOLDER / "tmp"),
    }


def _run(env: dict[str, str], logs: Path, name: str, *args: str) -> None:
    """One Airflow CLI command to completion (output in ``logs/<name>.log``)."""
    with open(logs / f"{name}.log", "wb") as out:
        done = subprocess.run(  # noqa: S603 (the airflow CLI of this interpreter)
            [*_airflow(), *args], env=env, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=300
        )
    if done.returncode != 0:
        tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"airflow {' '.join(args[:2])} failed ({done.returncode}):\n{tail}")


def _wait_healthy(url: str, processes: dict[str, subprocess.Popen[bytes]], timeout: float = 180) -> None:
    import requests

    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.trust_env = False
    last = ""
    while time.monotonic() < deadline:
        dead = [name for name, proc in processes.items() if proc.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited: see .playground/logs/")
        with contextlib.suppress(requests.RequestException, ValueError):
            health = session.get(f"{url}/api/v2/monitor/health", timeout=5).json()
            last = json.dumps(health)
            if all(
                health.get(k, {}).get("status") == "healthy"
                for k in ("metadatabase", "scheduler", "triggerer")
            ):
                return
        time.sleep(0.5)
    raise RuntimeError(f"Airflow not healthy after {timeout:.0f}s: {last}")


def _store_connection(url: str, connection: dict[str, Any]) -> None:
    """``metastudio_default`` in the metadata database, through the REST API the UI uses.

    With port 0: Airflow 3.3's Test button sends port 0 for a connection stored without a port
    and its api-server refuses the difference (the CLI cannot store 0: it drops a falsy port).
    """
    import requests

    with requests.Session() as session:
        session.trust_env = False
        token = session.post(f"{url}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30)
        token.raise_for_status()
        session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        body = {**connection, "connection_id": "metastudio_default", "port": 0}
        body["extra"] = json.dumps(body["extra"])
        answer = session.post(f"{url}/api/v2/connections", json=body, timeout=30)
        if answer.status_code >= 300:
            raise RuntimeError(f"storing metastudio_default: HTTP {answer.status_code} {answer.text[:500]}")


def _stop_groups(pgids: list[int], grace: float = 20.0) -> None:
    """SIGTERM each process group, SIGKILL what is left after ``grace`` seconds."""
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pgids):
        time.sleep(0.2)
    for pgid in pgids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(port: int) -> int:
    """Start everything, print how to use it, and keep running until Ctrl-C or ``--stop``."""
    if _running_supervisor() is not None:
        print(f"A playground is already running ({STATE}): make playground-stop", file=sys.stderr)
        return 1
    from cryptography.fernet import Fernet

    from metastudio_emulator import EmulatorConfig, EmulatorProcess

    shutil.rmtree(FOLDER, ignore_errors=True)
    home, logs = FOLDER / "airflow", FOLDER / "logs"
    for folder in (home, logs, FOLDER / "tmp"):
        folder.mkdir(parents=True)
    port = _port(port)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}}
    env.update(_environment(home, port, Fernet.generate_key().decode()))
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    url = env["AIRFLOW__API__BASE_URL"]
    os.environ["TMPDIR"] = tempfile.tempdir = env["TMPDIR"]  # the emulator's files too
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    emulator = EmulatorProcess(EmulatorConfig(time_scale=EMULATOR_TIME_SCALE, seed=7))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    started = time.monotonic()
    try:
        emulator.start()
        _save_state(emulator, processes, url)
        print(f"Emulator on {emulator.url}; migrating Airflow's database ...", flush=True)
        _run(env, logs, "db-migrate", "db", "migrate")
        for args in COMPONENTS:
            with open(logs / f"{args[0]}.log", "ab") as out:
                processes[args[0]] = subprocess.Popen(  # noqa: S603 (the airflow CLI)
                    [*_airflow(), *args],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=FOLDER,
                    start_new_session=True,
                )
            _save_state(emulator, processes, url)
        _wait_healthy(url, processes)
        _store_connection(url, emulator.connection_dict(auth_type="aksk"))
        _write_env_file(env)
        print(_banner(url, emulator.url, time.monotonic() - started), flush=True)
        while all(proc.poll() is None for proc in processes.values()):
            time.sleep(1)
        dead = [name for name, proc in processes.items() if proc.poll() is not None]
        print(f"{', '.join(dead)} exited (see .playground/logs/): stopping the playground", file=sys.stderr)
        return 1
    except Stop:
        print("\nStopping the playground ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        _stop_groups([proc.pid for proc in processes.values()])
        with contextlib.suppress(Exception):
            (logs / "emulator.log").write_text(emulator.stderr_tail(limit=10_000_000))
        emulator.stop()
        shutil.rmtree(FOLDER / "tmp", ignore_errors=True)
        STATE.unlink(missing_ok=True)
        print("Playground stopped (its database and logs stay in .playground/).", flush=True)


def _save_state(emulator: Any, processes: dict[str, subprocess.Popen[bytes]], url: str) -> None:
    state = {
        "supervisor": os.getpid(),
        "url": url,
        "emulator": emulator.pid,
        "groups": {name: proc.pid for name, proc in processes.items()},
    }
    STATE.write_text(json.dumps(state, indent=1))


def _write_env_file(env: dict[str, str]) -> None:
    lines = [
        f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.startswith(("AIRFLOW", "VOICE"))
    ]
    (FOLDER / "env.sh").write_text(
        "# source me: the airflow CLI then talks to the playground\n" + "\n".join(lines) + "\n"
    )


def _banner(url: str, emulator_url: str, seconds: float) -> str:
    return f"""
Airflow playground ready after {seconds:.0f} s (Airflow {_airflow_version()}, provider from this checkout)

  Airflow UI     {url}   login: {USER} / {PASSWORD}
  Emulator       {emulator_url}   (jobs: {emulator_url}/_emulator/console/jobs/<job_id>)
  Connection     metastudio_default (Admin > Connections; its Test button works)
  DAGs           dags/ (read in place), unpaused; trigger example_voice_training_pipeline
  Logs           .playground/logs/ (components), .playground/airflow/logs/ (tasks)
  CLI            source .playground/env.sh && airflow dags list

Stop: Ctrl-C here, or `make playground-stop` from another terminal.
"""


def _airflow_version() -> str:
    from importlib.metadata import version

    return version("apache-airflow")


def _running_supervisor() -> int | None:
    try:
        state = json.loads(STATE.read_text())
    except (OSError, ValueError):
        return None
    pid = int(state.get("supervisor", 0))
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError):
        return None
    except PermissionError:
        return pid
    return pid


def stop() -> int:
    """Stop a running playground: its supervisor cleans up; leftovers are killed by group."""
    try:
        state = json.loads(STATE.read_text())
    except (OSError, ValueError):
        print("No playground is running.")
        return 0
    supervisor = _running_supervisor()
    if supervisor is not None:
        os.kill(supervisor, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _running_supervisor() is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    # the supervisor died without cleaning up (or did not finish in time): its groups go now
    groups = [int(p) for p in state.get("groups", {}).values()]
    if any(_alive(p) for p in groups):
        _stop_groups(groups)
    emulator = int(state.get("emulator") or 0)
    if emulator and _running_supervisor() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(emulator, signal.SIGTERM)
    shutil.rmtree(FOLDER / "tmp", ignore_errors=True)
    STATE.unlink(missing_ok=True)
    print("Playground stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    global FOLDER, STATE  # one playground per process
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="api-server port (another if busy)")
    parser.add_argument("--stop", action="store_true", help="stop the running playground")
    parser.add_argument("--folder", type=Path, default=FOLDER, help="where it writes (default .playground)")
    args = parser.parse_args(argv)
    FOLDER, STATE = args.folder.resolve(), args.folder.resolve() / "state.json"
    return stop() if args.stop else start(args.port)


if __name__ == "__main__":
    sys.exit(main())
