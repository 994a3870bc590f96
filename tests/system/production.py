"""The production shape of Airflow on loopback, for the production-shape system test.

A private PostgreSQL server (``initdb`` into a temporary directory, a free loopback port, run as
the ``postgres`` user when the tests run as root), a private ``redis-server`` (no persistence,
a password), and :class:`ProductionCluster`: the components of :class:`AirflowCluster` with the
CeleryExecutor (broker and result backend on that Redis), the metadata database on that
PostgreSQL, two Celery workers (own hostnames, queues and log ports) and two triggerers.
Every server runs in its own process group and is registered with ``cluster.py``'s ``atexit``
fallback, like the Airflow components.

Everything here is harness; the assertions live in the test.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.system import cluster as base
from tests.system.cluster import AirflowCluster, Component, DbSampler, free_port, kill_component

#: what the Makefile installs when it is missing (Debian package names)
POSTGRES_GLOB = "/usr/lib/postgresql/*/bin/initdb"
DB_NAME = "airflow"
DB_USER = "airflow"
#: the worker names (``[core] hostname_callable`` reads ``VOICE_TRAINING_WORKER_NAME``) and the
#: extra queue each consumes besides ``default``: a task can be sent to one worker on purpose
WORKERS = {"worker-a": "kill_a", "worker-b": "kill_b"}
TRIGGERERS = ("triggerer-a", "triggerer-b")


def postgres_bin() -> Path:
    """The newest PostgreSQL server's ``bin`` folder (Debian's layout)."""
    found = sorted(Path("/").glob(POSTGRES_GLOB.lstrip("/")), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError(
            f"no PostgreSQL server ({POSTGRES_GLOB}): `make test` installs the Debian package "
            "`postgresql` with apt-get; or run `apt-get install postgresql`"
        )
    return found[-1].parent


def require_redis() -> str:
    path = shutil.which("redis-server")
    if not path:
        raise RuntimeError(
            "redis-server is not installed: `make test` installs the Debian package `redis-server` "
            "with apt-get; or run `apt-get install redis-server`"
        )
    return path


def descendants_of(root: int) -> list[int]:
    """Every live process below ``root`` in the process tree (from ``/proc``)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _run_as() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: drop to ``postgres`` when the tests run as root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres"}


class Server:
    """A server process in its own group, output in ``<logs>/<name>.out|.err``."""

    def __init__(self, name: str, logs: Path) -> None:
        self.name = name
        self.logs = logs
        self.component: Component | None = None
        self.history: list[Component] = []

    def _spawn(self, args: Sequence[str], env: dict[str, str] | None = None, **kw: Any) -> Component:
        number = len(self.history)
        name = self.name if not number else f"{self.name}-{number + 1}"
        stdout, stderr = self.logs / f"{name}.out", self.logs / f"{name}.err"
        with open(stdout, "ab") as out, open(stderr, "ab") as err:
            popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                env=env,
                **kw,
            )
        base._LIVE_GROUPS.add(popen.pid)
        self.component = Component(name, popen, stdout, stderr)
        self.history.append(self.component)
        return self.component

    def stop(self, sig: int = signal.SIGTERM, grace: float = 15.0) -> None:
        comp = self.component
        if comp is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(comp.pid, sig)
        deadline = time.monotonic() + grace
        while comp.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        kill_component(comp)
        self.component = None

    def wait_port(self, port: int, timeout: float = 30.0) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.component is not None and not self.component.running():
                raise RuntimeError(f"{self.name} exited:\n{self.component.tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not listening on {port} after {timeout}s")


class PostgresServer(Server):
    """``PostgresServer(root, logs)``: :meth:`start` runs initdb once, then the server."""

    def __init__(self, root: Path, logs: Path) -> None:
        super().__init__("postgres", logs)
        self.bin = postgres_bin()
        self.root = root
        self.data = root / "data"
        self.socket_dir = root / "socket"
        self.port = free_port()
        self.password = "pg-" + secrets.token_urlsafe(24)
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{DB_USER}:{self.password}@127.0.0.1:{self.port}/{DB_NAME}"

    def dsn(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "dbname": DB_NAME,
            "user": DB_USER,
            "password": self.password,
        }

    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "PGPASSWORD": self.password}

    def initdb(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        done = subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                DB_USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
            ],
            capture_output=True,
            env=self._env(),
            cwd=self.root,
            timeout=120,
            check=False,
            **_run_as(),
        )
        pwfile.unlink()
        (self.logs / "postgres-initdb.out").write_bytes(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}): {done.stderr.decode()[-2000:]}")

    def start(self) -> None:
        if not self.data.exists():
            self.initdb()
        self._spawn(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.socket_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
                # a test database: durability is not under test, speed is
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            env=self._env(),
            cwd=self.root,
            **_run_as(),
        )
        self.wait_ready()
        if len(self.history) == 1:
            self._psql(f"CREATE DATABASE {DB_NAME}", dbname="postgres")

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.component is not None
            if not self.component.running():
                raise RuntimeError(f"postgres exited:\n{self.component.tail()}")
            done = subprocess.run(
                [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER],
                capture_output=True,
                env=self._env(),
                check=False,
            )
            if done.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready after {timeout}s")

    def _client(self, program: str, args: list[str], what: str, timeout: float) -> str:
        """Run one of the server's client programs (``psql``, ``pg_dump``); its output."""
        done = subprocess.run(
            [str(self.bin / program), *args],
            capture_output=True,
            env=self._env(),
            check=False,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode()

    def _psql(self, sql: str, dbname: str = DB_NAME) -> str:
        return self._client("psql", [*self._conn_args(dbname), "-At", "-c", sql], f"psql {sql!r}", 60)

    def _conn_args(self, dbname: str = DB_NAME) -> list[str]:
        return ["-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, "-d", dbname]

    def restart(self, down_seconds: float = 2.0) -> float:
        """Immediate shutdown (SIGQUIT: no checkpoint, every connection dropped, crash recovery
        at start), a pause, a start on the same port; returns the seconds it was unreachable."""
        started = time.monotonic()
        self.stop(signal.SIGQUIT)
        time.sleep(down_seconds)
        self._spawn_again()
        self.restarts += 1
        return time.monotonic() - started

    def _spawn_again(self) -> None:
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        self.start()

    def dump(self, target: Path) -> Path:
        """``pg_dump`` of the metadata database (plain SQL) into ``target``."""
        self._client("pg_dump", [*self._conn_args(), "--no-owner", "-f", str(target)], "pg_dump", 120)
        return target


class RedisServer(Server):
    """A private ``redis-server``: loopback, a free port, a password, no persistence."""

    def __init__(self, root: Path, logs: Path) -> None:
        super().__init__("redis", logs)
        self.binary = require_redis()
        self.root = root
        self.port = free_port()
        self.password = "redis-" + secrets.token_urlsafe(24)

    def url(self, db: int) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        conf = self.root / "redis.conf"
        # the password goes in a file, never on a command line
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    'save ""',
                    "appendonly no",
                    f"dir {self.root}",
                    f"requirepass {self.password}",
                    "",
                ]
            )
        )
        conf.chmod(0o600)
        self._spawn([self.binary, str(conf)], cwd=self.root)
        self.wait_port(self.port)

    def client(self, db: int) -> Any:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, db=db)

    def dump_text(self) -> Iterator[tuple[str, str]]:
        """(key, value text) of every key in every database in use (broker 0, results 1)."""
        for db in (0, 1):
            client = self.client(db)
            try:
                for key in client.scan_iter(count=500):
                    kind = client.type(key).decode()
                    if kind == "string":
                        parts = [client.get(key) or b""]
                    elif kind == "list":
                        parts = list(client.lrange(key, 0, -1))
                    elif kind == "hash":
                        parts = [k + b"=" + v for k, v in client.hgetall(key).items()]
                    elif kind == "set":
                        parts = list(client.smembers(key))
                    elif kind == "zset":
                        parts = list(client.zrange(key, 0, -1))
                    else:
                        parts = []
                    text = b"\n".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)
                    yield f"db{db}:{key.decode(errors='replace')}", text.decode("utf-8", errors="replace")
            finally:
                client.close()


class _PgConnection:
    """The ``execute`` of ``sqlite3`` on a psycopg2 connection (what :class:`DbSampler` uses)."""

    def __init__(self, con: Any) -> None:
        self.con = con
        con.autocommit = True

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.con.cursor()
        cur.execute(sql, params)
        return cur

    def close(self) -> None:
        self.con.close()


class PgSampler(DbSampler):
    """:class:`DbSampler` on PostgreSQL; errors while the server restarts are counted."""

    def __init__(self, dsn: dict[str, Any], interval: float = 0.25) -> None:
        super().__init__(Path("/nonexistent"), interval)
        self.dsn = dsn

    def connect(self) -> Any:
        import psycopg2

        return _PgConnection(psycopg2.connect(connect_timeout=3, **self.dsn))

    def run(self) -> None:
        import psycopg2

        while not self._stop_event.wait(self.interval):
            try:
                self.sample()
            except psycopg2.Error:
                self.errors += 1


class ProductionCluster(AirflowCluster):
    """:class:`AirflowCluster` on PostgreSQL + CeleryExecutor/Redis, two workers, two triggerers."""

    def __init__(
        self,
        root: Path,
        connections: dict[str, str],
        extra_env: dict[str, str],
        worker_concurrency: int = 8,
    ) -> None:
        logs = root / "airflow" / "component-logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresServer(root / "pg", logs)
        self.redis = RedisServer(root / "redis", logs)
        self.worker_concurrency = worker_concurrency
        env = {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url(0),
            "AIRFLOW__CELERY__RESULT_BACKEND": self.redis.url(1),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(worker_concurrency),
            # a killed worker's unacknowledged message would come back after this; Airflow's
            # own heartbeat check retries the task long before (the warning asks to set it)
            "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": "21600",
            "AIRFLOW__CORE__PARALLELISM": "32",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "0",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.system.production_hostname.component_name",
            # a restarted scheduler adopts the queued/running tasks of the old one
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
            # a SIGKILLed worker takes the messages it had reserved but not started with it
            # (acks_late: Redis gives them back only after the visibility timeout); the
            # scheduler re-queues a task queued this long (default 600 s, checked every 120 s)
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
            # Airflow's default pool (5 + 10 overflow) ran dry in the api-server under a few
            # dozen concurrent task heartbeats and state updates: every request then waited
            # the pool's 30 s timeout (the api-server stalled 33-80 s after the database restart)
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "35",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # one api-server process: with more, uvicorn's worker health check (Airflow 3.0.6)
            # kills workers that start slowly on a loaded machine, over and over
            "AIRFLOW__API__WORKERS": "1",
            **extra_env,
        }
        super().__init__(root, connections, env)
        self.sampler = PgSampler(self.postgres.dsn())
        #: scheduler restarts, worker kills, triggerer kills (wall time, what)
        self.faults: list[tuple[float, str]] = []
        #: components that exited on their own and were started again: (wall time, name, exit code)
        self.restarted: list[tuple[float, str, int | None]] = []
        self._starters: dict[str, Any] = {}

    def run_state(self, dag_id: str, run_id: str) -> str:
        """The run's state from the database: an api-server slow to recover from the database
        restart (about 80 s on 3.0.6, 33 s on 3.3.2) must not fail the test's own polling."""
        with self.db() as con:
            row = con.execute(
                "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
            ).fetchone()
        return str(row[0]) if row else "none"

    def dag_sources(self) -> list[Path]:
        """Only the production DAG: the example DAGs would add work of their own (the asset
        consumer ``example_voice_training_new_voices`` runs once per trained voice: 150 more
        task runs competing for the workers)."""
        return [base.SYSTEM_DAGS / "system_voice_training_production.py"]

    def start(self) -> None:
        self.postgres.start()
        self.redis.start()
        self.prepare()
        for command in ("api-server", "scheduler", "dag-processor"):
            self.start_again(command)
        for name in TRIGGERERS:
            self.start_triggerer(name)
        for name in WORKERS:
            self.start_worker(name)
        self.sampler.start()

    def _own_env(self, name: str, log_port_key: str) -> dict[str, str]:
        return {
            "VOICE_TRAINING_WORKER_NAME": name,
            log_port_key: str(free_port()),
        }

    def start_component_env(
        self, role: str, args: Sequence[str], name: str, env: dict[str, str]
    ) -> Component:
        saved = self.env
        self.env = {**saved, **env}
        try:
            return self.start_component(role, *args, name=name)
        finally:
            self.env = saved

    def start_again(self, role: str) -> Component:
        """Start ``role`` (anew: its output goes to ``<role>-<n>.*``)."""
        if role in TRIGGERERS:
            return self.start_triggerer(role)
        if role in WORKERS:
            return self.start_worker(role)
        count = sum(c.name.startswith(role) for c in self.retired)
        return self.start_component(role, role, name=role if not count else f"{role}-{count + 1}")

    def check_components(self) -> None:
        """Restart policy "always" (what systemd or Kubernetes give every Airflow component):
        a component that exited is started again and recorded in :attr:`restarted`."""
        for role, comp in list(self.components.items()):
            if not comp.running():
                self.restarted.append((time.time(), comp.name, comp.popen.returncode))
                self.components.pop(role)
                self.retired.append(comp)
                self.start_again(role)

    def start_triggerer(self, name: str) -> Component:
        env = self._own_env(name, "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT")
        count = sum(c.name.startswith(name) for c in self.retired)
        return self.start_component_env(
            name, ["triggerer", "--skip-serve-logs"], name if not count else f"{name}-{count + 1}", env
        )

    def start_worker(self, name: str) -> Component:
        env = self._own_env(name, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT")
        count = sum(c.name.startswith(name) for c in self.retired)
        args = [
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--pid",
            str(self.home / f"{name}.pid"),
            "--without-gossip",
            # every component shares this machine's log folder: no log server needed (and a
            # killed worker's or triggerer's log-server child outlived it)
            "--skip-serve-logs",
            "--concurrency",
            str(self.worker_concurrency),
            "--queues",
            f"default,{WORKERS[name]}",
        ]
        return self.start_component_env(name, args, name if not count else f"{name}-{count + 1}", env)

    def kill(self, role: str) -> Component:
        """SIGKILL a component's whole process group and every process descended from it (a
        crash of the machine it runs on: nothing cleans up). Airflow starts each task process in
        a session of its own, outside the Celery worker's group: a crash takes it too."""
        comp = self.components.pop(role)
        descendants = descendants_of(comp.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(comp.pid, signal.SIGKILL)
        for pid in descendants:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        kill_component(comp)
        self.retired.append(comp)
        self.faults.append((time.time(), f"SIGKILL {role}"))
        return comp

    def restart_scheduler(self) -> float:
        """SIGTERM the scheduler (graceful), start a new one; seconds until it runs again."""
        started = time.monotonic()
        comp = self.components.pop("scheduler")
        base.stop_components([comp])
        self.retired.append(comp)
        self.faults.append((time.time(), "restart scheduler"))
        self.start_again("scheduler")
        return time.monotonic() - started

    def restart_postgres(self, down_seconds: float = 2.0) -> float:
        self.faults.append((time.time(), "restart PostgreSQL"))
        return self.postgres.restart(down_seconds)

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        con = self.sampler.connect()
        try:
            yield con
        finally:
            con.close()

    def stop(self) -> list[str]:
        leftovers = super().stop()
        for server in (self.redis, self.postgres):
            server.stop()
        return leftovers

    def all_components(self) -> list[Component]:
        return [*super().all_components(), *self.postgres.history, *self.redis.history]
