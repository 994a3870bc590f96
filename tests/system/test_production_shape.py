"""The provider on Airflow's production shape, with faults while it runs.

PostgreSQL metadata database, CeleryExecutor on Redis (broker and result backend), api-server,
scheduler, dag-processor, two Celery workers and two triggerers, the emulator over TLS with a
per-AK request-rate quota (``tests/system/production.py``). One DAG run trains a voice per entry
for several end users (``X-App-UserId``): mapped deferrable create-and-wait operators, mapped
create-only operators followed by sensors in poke, reschedule and deferrable mode and by result
operators, some jobs failing on purpose (``fail-`` voice names). While it runs:

1. a Celery worker is SIGKILLed while a create is between creating its job and committing it
   (the upload is held by an emulator latency fault), then started again;
2. the other worker is SIGKILLed while a non-deferrable create-and-wait polls its job, then
   started again;
3. a triggerer is SIGKILLed while most waits are deferred: its triggers move to the other one
   (the takeover time is measured from the ``trigger.triggerer_id`` changes);
4. the scheduler is restarted; 5. PostgreSQL is restarted (immediate shutdown).

Then: every task instance ends in its expected state, on try 1 unless each earlier try was cut
short by a fault (its worker killed, or PostgreSQL down, while it ran); exactly one remote job per
create; every deferred wait's event reached its task (its XCom is the emulator's answer); no
credential in any log, the Celery result backend and broker (every Redis key), or a dump of the
PostgreSQL database (XCom, rendered fields, trigger rows, ...); no request over the quota. The
figures go to ``.test-artifacts/production-shape.txt``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from metastudio_emulator import EmulatorConfig, EmulatorProcess, spawn_emulator_process
from tests.system.cluster import (
    ARTIFACTS,
    TRIGGERER_HEALTH_THRESHOLD,
    TRIGGERER_HEARTBEAT,
    Component,
    decrypt_trigger_kwargs,
)
from tests.system.conftest import CONN_EXTRA, HEARTBEAT_ENV
from tests.system.production import ProductionCluster, descendants_of
from tests.system.secret_scan import SecretScanner, emulator_secrets

pytestmark = [pytest.mark.system, pytest.mark.production, pytest.mark.timeout(2400)]

DAG_ID = "system_voice_training_production"
VICTIM_DAGS = {v: f"system_voice_training_production_victim_{v}" for v in ("create", "wait")}
USERS = [f"tenant-{n:02d}" for n in range(1, 9)]
#: remote jobs of the workload (besides the two victims). Each task run costs Airflow 3 about
#: 4 CPU-seconds on this shape (task supervisor and runner, api-server, scheduler), so 200 jobs
#: (about 470 task runs) take 11-14 minutes on two cores: ``make test`` runs 24 (two minutes
#: per Airflow version), ``VOICE_TRAINING_PRODUCTION_JOBS=200`` the full workload of docs/deploying.md
JOBS = int(os.environ.get("VOICE_TRAINING_PRODUCTION_JOBS", "24"))
#: create-only tasks (each followed by a sensor and a result operator: three task runs per job),
#: and create-and-wait (deferrable) tasks; every FAIL_EVERY-th voice of each kind fails
CREATED = max(6, JOBS * 3 // 20)
TRAINED = JOBS - CREATED
FAIL_EVERY = 6
#: sensor mode of the create-only jobs: poke and reschedule hold or re-take worker slots
POKE = RESCHEDULE = max(2, CREATED // 6)
SENSOR_MODES = (
    ("poke",) * POKE + ("reschedule",) * RESCHEDULE + ("deferrable",) * (CREATED - POKE - RESCHEDULE)
)
#: emulated lifecycle: 8 s from commit to PROCESSING, where the test holds every job until it
#: releases them all (so every deferrable wait is deferred when the triggerer dies)
TIME_SCALE = 1.0
POLL_INTERVAL = "5"
#: per-AK quota of the emulator (token bucket): requests per second and burst
RATE_QUOTA = 60.0
RATE_BURST = 120
#: the upload of the victim create is held this long, while its worker is killed
UPLOAD_HOLD = 30.0
RUN_TIMEOUT = 600.0
#: seconds for every create to run and every deferrable wait to be deferred
HOLD_TIMEOUT = 900.0
FIGURES = ARTIFACTS / "production-shape.txt"


@dataclass
class Figures:
    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)
        print(text)


def _voice(kind: str, number: int) -> str:
    name = f"{kind}-{number:03d}"
    return f"fail-{name}" if number % FAIL_EVERY == FAIL_EVERY - 1 else name


def _workload() -> dict[str, Any]:
    trained = [
        {"voice_name": _voice("trained", i), "app_user_id": USERS[i % len(USERS)]} for i in range(TRAINED)
    ]
    created = [
        {"voice_name": _voice("created", i), "app_user_id": USERS[i % len(USERS)], "mode": mode}
        for i, mode in zip(range(CREATED), SENSOR_MODES, strict=True)
    ]
    return {"trained": trained, "created": created}


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorProcess]:
    config = EmulatorConfig(
        tls=True,
        time_scale=TIME_SCALE,
        seed=12,
        quota_per_edition=1000,
        rate_limit_per_second=RATE_QUOTA,
        rate_limit_burst=RATE_BURST,
        # and each voice API at the region's documented per-tenant rate
        api_rate_limits=True,
    )
    with spawn_emulator_process(config) as emu:
        yield emu


@pytest.fixture(scope="module")
def production(request: pytest.FixtureRequest, emulator: EmulatorProcess) -> Iterator[ProductionCluster]:
    connections = {
        "metastudio_default": emulator.connection_json(auth_type="aksk_temporary", **CONN_EXTRA),
        # the victim create's upload is held UPLOAD_HOLD seconds: a client timeout beyond that
        "metastudio_victim": emulator.connection_json(
            auth_type="aksk_temporary", **{**CONN_EXTRA, "timeout": UPLOAD_HOLD + 30}
        ),
    }
    root = Path(tempfile.mkdtemp(prefix="voicetraining-production-"))
    os.chmod(root, 0o755)  # noqa: S103 (the postgres user reaches its data directory below)
    cluster = ProductionCluster(
        root, connections, {"VOICE_TRAINING_POLL_INTERVAL": POLL_INTERVAL, **HEARTBEAT_ENV}
    )
    failed = True
    try:
        cluster.start()
        cluster.startup_seconds = cluster.wait_ready([DAG_ID, *VICTIM_DAGS.values()], timeout=240)
        yield cluster
        failed = request.session.testsfailed > 0
    finally:
        try:
            if failed:
                _save(cluster, emulator)
        finally:
            leftovers = cluster.stop()
            shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"processes outlived their component's process group (killed now): {leftovers}"


def _save(cluster: ProductionCluster, emulator: EmulatorProcess) -> None:
    extra = {"emulator-stderr.txt": emulator.stderr_tail(limit=200_000)}
    with contextlib.suppress(Exception):
        extra["emulator-jobs.json"] = json.dumps(emulator.control.jobs(), indent=1)
        extra["emulator-stats.json"] = json.dumps(emulator.control.stats(), indent=1)
    with contextlib.suppress(Exception):
        cluster.postgres.dump(cluster.home / "metadata-dump.sql")
    path = cluster.save_artifacts(extra)
    print(f"\nproduction-shape artifacts (Airflow home, logs, DB dump): {path}")


def _wait(what: str, check: Callable[[], Any], timeout: float, cluster: ProductionCluster) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        cluster.check_components()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.25)
    return value


def _rows(cluster: ProductionCluster, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with cluster.db() as con:
        return list(con.execute(sql, params).fetchall())


def _pid_file(pid_dir: Path, task_id: str, map_index: int, try_number: int) -> dict[str, int] | None:
    path = pid_dir / f"{task_id}-{map_index}-try-{try_number}.pid"
    return json.loads(path.read_text()) if path.exists() else None


class JobHolder(threading.Thread):
    """Holds every voice job in PROCESSING as soon as it exists, until :meth:`release`: then
    each follows its normal timeline again (long past, so it ends at once: ``fail-`` voices
    FAILED, the others SUCCEED)."""

    def __init__(self, control: Any) -> None:
        super().__init__(name="job-holder", daemon=True)
        self.control = control
        self.held: set[str] = set()
        self.releasing = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.wait(0.3):
            with self.lock:
                if self.releasing.is_set():
                    return
                with contextlib.suppress(Exception):  # the next round tries again
                    for job in self.control.jobs():
                        if job["kind"] == "voice" and job["job_id"] not in self.held:
                            self.control.set_outcome(job["job_id"], "PROCESSING")
                            self.held.add(job["job_id"])

    def release(self) -> int:
        with self.lock:
            self.releasing.set()
            for job_id in sorted(self.held):
                self.control.set_outcome(job_id, None)
            return len(self.held)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def _victim_conf(victims: dict[str, str], victim: str, pid_dir: Path) -> dict[str, str]:
    return {"voice_name": victims[victim], "pid_dir": str(pid_dir)}


def _voice_jobs(control: Any) -> dict[str, list[dict[str, Any]]]:
    jobs: dict[str, list[dict[str, Any]]] = {}
    for job in control.jobs():
        if job["kind"] == "voice":
            jobs.setdefault(str(job["meta"].get("voice_name")), []).append(job)
    return jobs


def test_production_shape(production: ProductionCluster, emulator: EmulatorProcess, tmp_path: Path) -> None:
    cluster, control = production, emulator.control
    figures = Figures()
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    pid_dir.chmod(0o777)
    workload = _workload()
    victims = {"create": "victim-create-narrator", "wait": "victim-wait-narrator"}
    figures.add(
        f"startup (PostgreSQL, Redis, migration, 7 Airflow components): {cluster.startup_seconds:.1f}s"
    )

    holder = JobHolder(control)
    holder.start()
    try:
        _run_with_faults(cluster, emulator, figures, holder, pid_dir, workload, victims)
    finally:
        holder.stop()


def _run_with_faults(
    cluster: ProductionCluster,
    emulator: EmulatorProcess,
    figures: Figures,
    holder: JobHolder,
    pid_dir: Path,
    workload: dict[str, Any],
    victims: dict[str, str],
) -> None:
    control = emulator.control
    # the non-deferrable wait starts first (its job held in PROCESSING); its worker dies in step 2
    clock = time.monotonic()
    victim_runs = {
        "wait": cluster.trigger(VICTIM_DAGS["wait"], "victim", _victim_conf(victims, "wait", pid_dir))
    }
    wait_job = _wait(
        "the inline wait's job", lambda: _voice_jobs(control).get(victims["wait"]), 120, cluster
    )[0]["job_id"]
    _wait("the inline wait's commit", lambda: control.job(wait_job)["commits"], 30, cluster)

    # 1. worker A dies while a create is between its job and its commit (the upload is held)
    control.set_faults(
        [
            {
                "route": "obs_upload",
                "kind": "latency",
                "min_delay": UPLOAD_HOLD,
                "max_delay": UPLOAD_HOLD,
                "times": 1,
            }
        ]
    )
    victim_runs["create"] = cluster.trigger(
        VICTIM_DAGS["create"], "victim", _victim_conf(victims, "create", pid_dir)
    )
    _wait("the held upload", lambda: control.faults()["triggered"].get("latency"), 120, cluster)
    held_at = time.monotonic()
    run_id = cluster.trigger(DAG_ID, "production", {**workload, "pid_dir": str(pid_dir)})
    # let the workload start on both workers: the kill takes some of its tries too
    _wait(
        "the workload creating jobs",
        lambda: (
            sum(map(len, _voice_jobs(control).values())) >= 12 or time.monotonic() - held_at > UPLOAD_HOLD - 8
        ),
        UPLOAD_HOLD,
        cluster,
    )
    victim = _wait(
        "the victim's process ids", lambda: _pid_file(pid_dir, "create_victim", -1, 1), 10, cluster
    )
    assert victim["task"] in descendants_of(cluster.components["worker-a"].pid), "not on worker A"
    (victim_job,) = _voice_jobs(control)[victims["create"]]
    assert not victim_job["commits"], "the victim create committed before its worker was killed"
    killed_at = {"worker-a": time.time()}
    killed_workers = {"worker-a": cluster.kill("worker-a")}
    cluster.start_worker("worker-a")
    figures.add(f"fault: SIGKILL worker-a mid-create (job {victim_job['job_id']} created, not committed)")

    # 2. worker B dies while a non-deferrable create-and-wait polls its job
    _wait(
        "worker B polling the inline wait's job",
        lambda: [r for r in control.requests(route="show_job") if wait_job in r["path"]],
        60,
        cluster,
    )
    waiter = _pid_file(pid_dir, "wait_victim", -1, 1)
    assert waiter and waiter["task"] in descendants_of(cluster.components["worker-b"].pid)
    killed_at["worker-b"] = time.time()
    killed_workers["worker-b"] = cluster.kill("worker-b")
    cluster.start_worker("worker-b")
    figures.add(f"fault: SIGKILL worker-b mid non-deferrable wait (job {wait_job} in PROCESSING)")

    # 3. a triggerer dies while every deferrable wait is deferred (the emulator holds every job in
    # PROCESSING until the test releases it)
    waits_total = TRAINED + SENSOR_MODES.count("deferrable") + 1  # + the victim create

    def deferred_now() -> int:
        return int(_rows(cluster, "SELECT count(*) FROM task_instance WHERE state = 'deferred'")[0][0])

    def all_deferred() -> bool:
        unassigned = _rows(cluster, "SELECT count(*) FROM trigger WHERE triggerer_id IS NULL")[0][0]
        return deferred_now() >= waits_total and not unassigned

    _wait("every deferrable wait deferred", all_deferred, HOLD_TIMEOUT, cluster)
    deferred_after = time.monotonic() - clock
    owners = Counter(
        int(r[0]) for r in _rows(cluster, "SELECT triggerer_id FROM trigger WHERE triggerer_id IS NOT NULL")
    )
    names = {
        int(job_id): str(hostname)
        for job_id, hostname in _rows(cluster, "SELECT id, hostname FROM job WHERE job_type = 'TriggererJob'")
    }
    dead_id, held_count = owners.most_common(1)[0]  # the busier triggerer dies
    victim_triggerer = names[dead_id]
    held = [int(r[0]) for r in _rows(cluster, "SELECT id FROM trigger WHERE triggerer_id = %s", (dead_id,))]
    split = ", ".join(f"{names[i]} {n}" for i, n in sorted(owners.items()))
    deferred_at_kill = deferred_now()
    kill_clock = time.monotonic()
    killed_at[victim_triggerer] = time.time()
    cluster.kill(victim_triggerer)

    def taken_over() -> bool:
        rows = _rows(cluster, "SELECT triggerer_id FROM trigger WHERE id = ANY(%s)", (held,))
        return all(r[0] is not None and int(r[0]) != dead_id for r in rows)

    _wait("the other triggerer to take the triggers over", taken_over, 120, cluster)
    takeover = time.monotonic() - kill_clock
    figures.add(
        f"fault: SIGKILL {victim_triggerer} {deferred_after:.0f}s into the run with {deferred_at_kill} tasks "
        f"deferred (triggers per triggerer: {split}); the other triggerer held all {len(held)} of them "
        f"{takeover:.1f}s later (heartbeat {TRIGGERER_HEARTBEAT}s, health threshold "
        f"{TRIGGERER_HEALTH_THRESHOLD}s)"
    )
    assert len(held) == held_count
    # the inline wait's retry reconnected to its job before the job ends
    _wait("the inline wait's retry", lambda: _pid_file(pid_dir, "wait_victim", -1, 2), 120, cluster)
    released = holder.release()
    figures.add(f"released {released} held jobs (each to the outcome its voice name selects)")
    cluster.start_triggerer(victim_triggerer)  # back to two for the rest of the run

    # 4. the scheduler restarts; 5. PostgreSQL restarts
    restart = cluster.restart_scheduler()
    figures.add(f"fault: scheduler restarted (SIGTERM, new scheduler started after {restart:.1f}s)")
    time.sleep(3)
    pg_restarted_at = time.time()
    down = cluster.restart_postgres(down_seconds=2.0)
    figures.add(f"fault: PostgreSQL restarted (immediate shutdown, unreachable {down:.1f}s)")

    runs = [(DAG_ID, run_id), *((VICTIM_DAGS[v], victim_runs[v]) for v in ("create", "wait"))]
    final = cluster.wait_for_runs(runs, timeout=RUN_TIMEOUT, poll=2)
    run_seconds = time.monotonic() - clock
    assert final.pop((DAG_ID, run_id)) == "failed"  # the fail- voices fail their tasks, as they should
    assert set(final.values()) == {"success"}, final
    # the harness restarts a component that exits (as systemd or Kubernetes would): only the
    # database outage may have made one exit
    crashed = [f"{name} (exit {code})" for _, name, code in cluster.restarted]
    figures.add(
        "components that exited on the PostgreSQL outage and were restarted: "
        + (", ".join(crashed) or "none")
    )
    early = [(name, code) for at, name, code in cluster.restarted if at < pg_restarted_at]
    assert not early, f"components exited before the database restart: {early}"

    faults = Faults(
        killed_at={name: killed_at[name] for name in killed_workers},
        received={name: _output(comp) for name, comp in killed_workers.items()},
        database_down=(pg_restarted_at, pg_restarted_at + down),
    )
    _check_outcomes(cluster, control, runs, workload, victims, faults, figures)
    _check_requests(control, figures)
    _check_secrets(cluster, emulator, figures)
    jobs = sum(len(v) for v in _voice_jobs(control).values())
    figures.add(
        f"workload: {jobs} remote jobs for {len(USERS)} end users; run finished {run_seconds:.1f}s after it "
        f"was triggered"
    )
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text("\n".join(figures.lines) + "\n")


def _task_key(dag_id: str, task_id: str) -> str:
    """Task ids of the victim DAGs get the victim's name in front (both have a ``package``)."""
    return task_id if dag_id == DAG_ID else f"{dag_id.rsplit('_', 1)[-1]}:{task_id}"


def _expected(task_id: str, voice: str) -> str:
    failing = voice.startswith("fail-")
    if task_id in ("train", "sense_poke", "sense_reschedule", "sense_deferrable"):
        return "failed" if failing else "success"
    return "success"  # create (create only), result (fail_on_job_failure=False), the victims


def _check_outcomes(
    cluster: ProductionCluster,
    control: Any,
    runs: list[tuple[str, str]],
    workload: dict[str, Any],
    victims: dict[str, str],
    faults: Faults,
    figures: Figures,
) -> None:
    jobs = _voice_jobs(control)
    # exactly one remote job per create, committed once
    names = [e["voice_name"] for e in workload["trained"] + workload["created"]] + list(victims.values())
    duplicates = {n: len(jobs.get(n, [])) for n in names if len(jobs.get(n, [])) != 1}
    assert not duplicates, f"remote jobs per voice (want exactly 1): {duplicates}"
    assert all(len(jobs[n][0]["commits"]) == 1 for n in names)
    assert len(jobs) == len(names)

    run_id = runs[0][1]
    keys = [f"{dag_id}/{run}" for dag_id, run in runs]
    tis = {
        (_task_key(dag_id, task_id), int(map_index)): (
            state,
            int(try_number),
            start,
        )
        for dag_id, task_id, map_index, state, try_number, start in _rows(
            cluster,
            "SELECT dag_id, task_id, map_index, state, try_number, start_date FROM task_instance "
            "WHERE dag_id || '/' || run_id = ANY(%s)",
            (keys,),
        )
    }
    history: dict[tuple[str, int], list[Attempt]] = {}
    for dag_id, task_id, map_index, try_number, state, hostname, start, end, celery_id in _rows(
        cluster,
        "SELECT dag_id, task_id, map_index, try_number, state, hostname, start_date, end_date, "
        "external_executor_id FROM task_instance_history "
        "WHERE dag_id || '/' || run_id = ANY(%s) ORDER BY try_number",
        (keys,),
    ):
        key = (_task_key(dag_id, task_id), int(map_index))
        history.setdefault(key, []).append(Attempt(int(try_number), state, hostname, start, end, celery_id))

    expected: dict[tuple[str, int], str] = {}
    for i, entry in enumerate(workload["trained"]):
        expected[("train", i)] = _expected("train", entry["voice_name"])
    by_mode: dict[str, int] = Counter()
    for i, entry in enumerate(workload["created"]):
        expected[("create", i)] = "success"
        expected[("result", i)] = "success"
        mode = entry["mode"]
        expected[(f"sense_{mode}", by_mode[mode])] = _expected(f"sense_{mode}", entry["voice_name"])
        by_mode[mode] += 1
    for task_id in ("create:create_victim", "wait:wait_victim", "create:package", "wait:package"):
        expected[(task_id, -1)] = "success"
    for task_id in ("package", "trained", "created", "results"):
        expected[(task_id, -1)] = "success"
    for mode in ("poke", "reschedule", "deferrable"):
        expected[(f"waits_{mode}", -1)] = "success"
    states = {key: value[0] for key, value in tis.items()}
    wrong = {
        f"{k[0]}[{k[1]}]": (states.get(k), want) for k, want in expected.items() if states.get(k) != want
    }
    assert not wrong, f"task instances not in their expected state (got, want): {wrong}"
    assert set(tis) == set(expected)

    # the correct try: every earlier try was cut short by a fault this test made
    retried: Counter[str] = Counter()
    bad_tries = {}
    for key, (_, try_number, started) in tis.items():
        earlier = {h.try_number: h for h in history.get(key, []) if h.try_number < try_number}
        starts = {**{n: h.start for n, h in earlier.items()}, try_number: started}
        unexplained = [
            n
            for n in range(1, try_number)
            if not (
                faults.cut_short(earlier[n]) if n in earlier else faults.lost_in_outage(starts.get(n + 1))
            )
        ]
        if unexplained:
            bad_tries[f"{key[0]}[{key[1]}]"] = {"final try": try_number, "earlier": list(earlier.values())}
        if try_number > 1:
            retried[key[0]] += 1
    assert not bad_tries, f"tries not explained by a killed worker or the database outage: {bad_tries}"
    for task_id, worker in (("create:create_victim", "worker-a"), ("wait:wait_victim", "worker-b")):
        first = history.get((task_id, -1), [None])[0]
        assert first and first.try_number == 1 and faults.killed_with(first, worker), (
            f"{task_id} was not retried after its worker was killed: {history.get((task_id, -1))}"
        )

    # every deferred wait's event reached its task: its result is the emulator's
    for i, entry in enumerate(workload["trained"]):
        job = jobs[entry["voice_name"]][0]
        if expected[("train", i)] == "success":
            assert cluster.xcom(DAG_ID, run_id, "train", map_index=i) == job["view"]["asset_id"]
        assert job["app_user_id"] == entry["app_user_id"]
    for i, entry in enumerate(workload["created"]):
        job = jobs[entry["voice_name"]][0]
        assert cluster.xcom(DAG_ID, run_id, "create", map_index=i) == job["job_id"]
        result = cluster.xcom(DAG_ID, run_id, "result", map_index=i)
        if entry["voice_name"].startswith("fail-"):
            assert result["job_id"] == job["job_id"] and result["state"] == "FAILED"
        else:
            assert result == job["view"]["asset_id"]
    for (dag_id, victim_run), name in zip(runs[1:], ("create", "wait"), strict=True):
        job = jobs[victims[name]][0]
        assert cluster.xcom(dag_id, victim_run, f"{name}_victim") == job["view"]["asset_id"]
        assert job["state"] == "SUCCEED"
    deferred = [k for k in tis if "deferred" in cluster.sampler.states_of(DAG_ID, run_id, k[0])]
    assert deferred, "no wait was seen deferred"
    figures.add(
        f"outcomes: {len(tis)} task instances in their expected state; retried after a fault: "
        f"{dict(retried)}; one remote job per create ({len(names)})"
    )


class Attempt(NamedTuple):
    """One earlier try of a task instance, from ``task_instance_history``."""

    try_number: int
    state: str
    hostname: str | None
    start: Any
    end: Any
    celery_id: str | None


@dataclass(frozen=True)
class Faults:
    """The faults the test made, to tell which tries they cut short."""

    #: worker name: when the test killed it
    killed_at: dict[str, float]
    #: worker name: what the killed instance printed (each Celery task it received is named there)
    received: dict[str, str]
    #: PostgreSQL shut down at, accepting connections again at
    database_down: tuple[float, float]

    def killed_with(self, attempt: Attempt, worker: str) -> bool:
        """The try was received by the worker instance the test killed and ended no earlier."""
        return (
            attempt.hostname == worker
            and bool(attempt.celery_id)
            and str(attempt.celery_id) in self.received[worker]
            and (attempt.end is None or attempt.end.timestamp() >= self.killed_at[worker])
        )

    def cut_short(self, attempt: Attempt) -> bool:
        """A fault hit the try: its worker instance was killed, or PostgreSQL went down while it ran.

        (A task process whose heartbeat the stalled api-server cannot store during the outage ends,
        e.g. Airflow 3.0.6's supervisor exits on the heartbeat's read timeout, and the task is retried.)
        """
        if attempt.hostname in self.received and self.killed_with(attempt, attempt.hostname):
            return True
        if attempt.start is None:
            return False
        ended = attempt.end.timestamp() if attempt.end is not None else float("inf")
        return attempt.start.timestamp() < self.database_down[1] and ended >= self.database_down[0]

    def lost_in_outage(self, next_start: Any) -> bool:
        """A try Airflow kept no history of was lost to the database outage.

        Airflow 3.3 records no ``task_instance_history`` row for a resumed try its executor reported
        finished while still queued (a resume sent to a worker as PostgreSQL went down). Such a try was
        still in flight when the outage began if the next try began after that (the DAGs retry after
        1 s, so a try that failed earlier was retried before the outage).
        """
        return next_start is not None and next_start.timestamp() >= self.database_down[0]


def _output(component: Component) -> str:
    return "".join(path.read_text(errors="replace") for path in (component.stdout, component.stderr))


def _check_requests(control: Any, figures: Figures) -> None:
    stats = control.stats()
    entries = control.requests()
    throttled = [e for e in entries if e["status"] == 429]
    per_second = Counter(int(e["time"]) for e in entries if e["route"] != "obs_upload")
    jobs = sum(1 for j in control.jobs() if j["kind"] == "voice")
    routes = Counter(e["route"] for e in entries)
    figures.add(
        f"requests: {len(entries)} API requests for {jobs} jobs ({len(entries) / jobs:.1f} per job; "
        f"show_job {routes['show_job'] / jobs:.1f} per job); peak {max(per_second.values())} req/s "
        f"(quota {RATE_QUOTA:.0f}/s, burst {RATE_BURST}); throttled (429): {len(throttled)}"
    )
    # the clients cap themselves per process; many task processes creating at once meet the
    # tenant's write limit (3/s) now and then, how often depends on how many start in the same
    # second. Each 429 costs one call, retried after a backoff (outcomes: every task succeeded,
    # one job per create); a client retrying without backoff would make dozens per write
    writes = sum(e["method"] != "GET" and e["route"] != "obs_upload" and e["status"] < 400 for e in entries)
    assert len(throttled) <= writes, f"{len(throttled)} over the quota for {writes} writes: {throttled[:5]}"
    assert stats is not None


def _check_secrets(cluster: ProductionCluster, emulator: EmulatorProcess, figures: Figures) -> None:
    secrets = emulator_secrets(emulator.config)
    scanner = SecretScanner(secrets, emulator.control.tokens())
    for path in sorted(p for p in cluster.logs.rglob("*") if p.is_file()):
        scanner.scan_file("task and trigger logs", path)
    for comp in cluster.all_components():
        for path in (comp.stdout, comp.stderr):
            if path.exists():
                scanner.scan_file("component output", path)
    for key, text in cluster.redis.dump_text():
        scanner.scan_text("Redis (broker and result backend)", key, text)
    dump = cluster.postgres.dump(cluster.root / "metadata-dump.sql")
    scanner.scan_file("PostgreSQL dump", dump)
    for sample in cluster.sampler.trigger_samples():
        text = decrypt_trigger_kwargs(cluster.fernet_key, sample.kwargs)
        scanner.scan_text("trigger rows (decrypted kwargs)", f"trigger {sample.trigger_id}", text)
    figures.add(f"secret scan: {scanner.summary()}")
    tally = scanner.tally
    assert (
        tally["PostgreSQL dump"].bytes > 100_000
        and tally["trigger rows (decrypted kwargs)"].items >= TRAINED // 2
    )
    assert tally["Redis (broker and result backend)"].items >= 1
    assert not scanner.findings, "credentials found:\n" + "\n".join(map(str, scanner.findings[:40]))
