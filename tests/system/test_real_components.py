"""The provider in real Airflow: api-server, scheduler, dag-processor and triggerer as separate
processes (LocalExecutor, SQLite), the emulator in its own process over TLS.

* The example DAGs, triggered through the REST API, end as documented (task states and XComs read
  back through the REST API); the deferrable sensor, create and result operators really wait in
  the triggerer (deferred state, trigger rows, trigger log files written by the triggerer).
* Triggerer failover: with every wait deferred, the triggerer's process group is SIGKILLed, a new
  triggerer takes the triggers over and every run still ends with the right outcome.
* No credential (AK, SK, temporary AK/SK, security token, IAM password, issued IAM tokens) in any
  task or trigger log, component output, XCom, rendered template field or trigger row.

One set of components serves the whole module (fixtures in ``conftest.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from airflow_provider_voicetraining.states import StateClass, classify
from metastudio_emulator import EmulatorProcess
from tests.system.cluster import TRIGGERER_HEALTH_THRESHOLD, AirflowCluster, decrypt_trigger_kwargs
from tests.system.conftest import AUTH_MODES, EXISTING, PIPELINE
from tests.system.secret_scan import SecretScanner, emulator_secrets

pytestmark = pytest.mark.system

TRIGGER_CLASSPATH = "airflow_provider_voicetraining.triggers.voice_training.VoiceTrainingJobTrigger"
SEEDED_CODE = "MSS.20009001"
SEEDED_REASON = "The recordings are too noisy to train a voice."
FAILOVER_CODE = "MSS.20009002"
FAILOVER_REASON = "Training was interrupted by a resource failure."
PIPELINE_TASKS = (
    "prepare_training_package",
    "create_voice_job",
    "remove_generated_package",
    "wait_for_voice",
    "use_voice",
    "describe_voice_asset",
)
AUTH_MODES_TASKS = ("prepare_package", "create_and_wait", "create_only", "wait_for_voice", "collect_result")


@dataclass(frozen=True)
class Run:
    dag_id: str
    run_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.dag_id, self.run_id)


@dataclass
class MainRuns:
    runs: dict[str, Run]
    final: dict[str, str]
    seeded_job_id: str
    seconds: float


def _trigger_all(
    cluster: AirflowCluster, specs: dict[str, tuple[str, dict[str, Any]]], prefix: str
) -> dict[str, Run]:
    runs = {}
    for name, (dag_id, conf) in specs.items():
        runs[name] = Run(dag_id, cluster.trigger(dag_id, f"{prefix}_{name}", conf))
    return runs


@pytest.fixture(scope="module")
def main_runs(cluster: AirflowCluster, system_emulator: EmulatorProcess) -> MainRuns:
    """One run per outcome, all at once: pipeline success and failure, an existing FAILED job,
    and the auth-modes DAG (IAM password + permanent AK/SK)."""
    seeded = system_emulator.control.seed_job(
        state="FAILED",
        voice_name="seeded-failed-voice",
        job_failed_code=SEEDED_CODE,
        job_failed_reason=SEEDED_REASON,
    )
    started = time.monotonic()
    runs = _trigger_all(
        cluster,
        {
            "success": (PIPELINE, {"voice_name": "system-narrator"}),
            "failure": (PIPELINE, {"voice_name": "fail-system-narrator"}),
            "existing_failed": (EXISTING, {"job_id": seeded["job_id"]}),
            "auth_modes": (AUTH_MODES, {"voice_name": "system-auth-modes"}),
        },
        "main",
    )
    final = cluster.wait_for_runs([r.key for r in runs.values()], timeout=150)
    seconds = time.monotonic() - started
    print(f"\nstartup {cluster.startup_seconds:.1f}s; main runs finished in {seconds:.1f}s")
    return MainRuns(runs, {name: final[run.key] for name, run in runs.items()}, seeded["job_id"], seconds)


def _xcom_or_none(cluster: AirflowCluster, run: Run, task_id: str, key: str = "return_value") -> Any:
    try:
        return cluster.xcom(*run.key, task_id, key)
    except KeyError:
        return None


# ------------------------------------------------------------------------------------ outcomes
def test_every_component_listens_on_loopback_only(cluster: AirflowCluster, main_runs: MainRuns) -> None:
    """The api-server binds 127.0.0.1; no log server of the scheduler or triggerer runs."""
    listening = cluster.listening_sockets()
    assert any(port == cluster.port for _, _, port in listening), listening
    assert all(address in ("127.0.0.1", "::1") for _, address, _ in listening), listening


def test_pipeline_success_hands_the_sensor_asset_id_to_use_voice(
    cluster: AirflowCluster, main_runs: MainRuns, system_emulator: EmulatorProcess
) -> None:
    run = main_runs.runs["success"]
    assert main_runs.final["success"] == "success", cluster.explain(*run.key)
    assert cluster.task_states(*run.key) == dict.fromkeys(PIPELINE_TASKS, "success")
    job_id = cluster.xcom(*run.key, "create_voice_job")
    job = cluster.xcom(*run.key, "wait_for_voice")
    assert job["job_id"] == job_id and job["state"] == "SUCCEED" and job["voice_name"] == "system-narrator"
    assert job["asset_id"] and cluster.xcom(*run.key, "use_voice") == job["asset_id"]
    assert system_emulator.control.job(job_id)["view"]["asset_id"] == job["asset_id"]


def test_pipeline_failure_fails_the_sensor_with_failure_details(
    cluster: AirflowCluster, main_runs: MainRuns, system_emulator: EmulatorProcess
) -> None:
    run = main_runs.runs["failure"]
    assert main_runs.final["failure"] == "failed", cluster.explain(*run.key)
    assert cluster.task_states(*run.key) == {
        "prepare_training_package": "success",
        "create_voice_job": "success",
        "remove_generated_package": "success",
        "wait_for_voice": "failed",
        "use_voice": "upstream_failed",
        "describe_voice_asset": "upstream_failed",
    }
    job_id = cluster.xcom(*run.key, "create_voice_job")
    details = cluster.xcom(*run.key, "wait_for_voice", "failure_details")
    remote = system_emulator.control.job(job_id)["view"]
    assert remote["state"] == "FAILED" and remote["job_failed_code"]
    assert (
        details["job_id"] == job_id and details["state"] == "FAILED" and details["state_class"] == "failure"
    )
    assert details["job_failed_code"] == remote["job_failed_code"]
    assert details["job_failed_reason"] == remote["job_failed_reason"]
    assert _xcom_or_none(cluster, run, "wait_for_voice") is None
    # a failed job is final: no retry (AirflowFailException), so exactly one try ran
    try_number = cluster.task_instances(*run.key)["wait_for_voice"]["try_number"]
    assert cluster.started_tries(*run.key, "wait_for_voice") == [try_number]


def test_existing_failed_job_is_routed_to_report_failure(
    cluster: AirflowCluster, main_runs: MainRuns
) -> None:
    run = main_runs.runs["existing_failed"]
    assert main_runs.final["existing_failed"] == "success", cluster.explain(*run.key)
    assert cluster.task_states(*run.key) == {
        "find_job": "success",
        "get_result": "success",
        "route": "success",
        "use_voice": "skipped",
        "report_failure": "success",
    }
    details = cluster.xcom(*run.key, "get_result", "failure_details")
    assert details["job_id"] == main_runs.seeded_job_id and details["state"] == "FAILED"
    assert details["job_failed_code"] == SEEDED_CODE and details["job_failed_reason"] == SEEDED_REASON
    report = cluster.xcom(*run.key, "report_failure")
    assert report["job_id"] == main_runs.seeded_job_id and report["state"] == "FAILED"
    assert SEEDED_CODE in report["report"] and SEEDED_REASON in report["report"]


def test_auth_modes_dag_works_with_iam_tokens_and_permanent_aksk(
    cluster: AirflowCluster, main_runs: MainRuns, system_emulator: EmulatorProcess
) -> None:
    run = main_runs.runs["auth_modes"]
    assert main_runs.final["auth_modes"] == "success", cluster.explain(*run.key)
    assert cluster.task_states(*run.key) == dict.fromkeys(AUTH_MODES_TASKS, "success")
    control = system_emulator.control
    waited_job = cluster.xcom(*run.key, "create_and_wait", "job_id")
    assert cluster.xcom(*run.key, "create_and_wait") == control.job(waited_job)["view"]["asset_id"]
    other_job = cluster.xcom(*run.key, "create_only")
    sensed = cluster.xcom(*run.key, "wait_for_voice")
    assert sensed["job_id"] == other_job and sensed["asset_id"]
    assert cluster.xcom(*run.key, "collect_result") == sensed["asset_id"]
    # the worker and the triggerer each minted IAM tokens; every auth mode reached the gateway
    assert len(control.tokens()) >= 2
    kinds = {entry["auth"] for entry in control.requests(route="show_job")}
    assert {"aksk", "aksk_temporary", "token"} <= kinds


def _deferrable_tasks(cluster: AirflowCluster, runs: dict[str, Run]) -> list[tuple[Run, str, str, str]]:
    """(run, task_id, job_id, conn_id) of every deferrable wait in the main runs."""
    success, failure, auth = runs["success"], runs["failure"], runs["auth_modes"]
    created_only = cluster.xcom(*auth.key, "create_only")
    return [
        (success, "wait_for_voice", cluster.xcom(*success.key, "create_voice_job"), "metastudio_default"),
        (failure, "wait_for_voice", cluster.xcom(*failure.key, "create_voice_job"), "metastudio_default"),
        (
            auth,
            "create_and_wait",
            cluster.xcom(*auth.key, "create_and_wait", "job_id"),
            "metastudio_password",
        ),
        (auth, "wait_for_voice", created_only, "metastudio_password"),
        (auth, "collect_result", created_only, "metastudio_aksk"),
    ]


def test_deferrable_tasks_waited_in_the_real_triggerer(cluster: AirflowCluster, main_runs: MainRuns) -> None:
    samples = {(s.trigger_id, s.created): s for s in cluster.sampler.trigger_samples()}
    by_id: dict[int, list[Any]] = {}
    for sample in samples.values():
        by_id.setdefault(sample.trigger_id, []).append(sample)
    deferrable = _deferrable_tasks(cluster, main_runs.runs)
    for run, task_id, job_id, conn_id in deferrable:
        where = f"{run.run_id}/{task_id}"
        assert "deferred" in cluster.sampler.states_of(*run.key, task_id), where
        trigger_ids = cluster.sampler.triggers_of(*run.key, task_id)
        assert trigger_ids, f"{where}: no trigger row was seen"
        kwargs = [
            decrypt_trigger_kwargs(cluster.fernet_key, s.kwargs)
            for t in trigger_ids
            for s in by_id.get(t, [])
            if s.classpath == TRIGGER_CLASSPATH
        ]
        assert any(job_id in k and conn_id in k for k in kwargs), f"{where}: trigger kwargs {kwargs}"
        logs = cluster.trigger_logs(*run.key, task_id)
        assert logs, f"{where}: no trigger log in {cluster.task_log_dir(*run.key, task_id)}"
        # the trigger's own log lines (job state changes), written by the triggerer
        _wait_for_log_line(list(logs.values()), f"Job {job_id}", where)
    # the other tasks ran in workers only
    for run in main_runs.runs.values():
        for task_id in cluster.task_states(*run.key):
            if not any(r == run and t == task_id for r, t, _, _ in deferrable):
                assert not cluster.trigger_logs(*run.key, task_id), f"{run.run_id}/{task_id}"


def _wait_for_log_line(paths: list[Any], needle: str, where: str, timeout: float = 10.0) -> None:
    """The triggerer writes trigger logs asynchronously: give the lines a moment to land."""
    deadline = time.monotonic() + timeout
    while True:
        text = "".join(path.read_text(errors="replace") for path in paths)
        if needle in text:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{where}: {needle!r} not in the trigger log:\n{text[-3000:]}")
        time.sleep(0.2)


# ------------------------------------------------------------------------------------ failover
def _in_progress(control: Any, job_id: str) -> bool:
    return classify(control.job(job_id)["state"]) is StateClass.IN_PROGRESS


def _wait(what: str, check: Callable[[], bool], timeout: float, cluster: AirflowCluster) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        cluster.check_components()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)


def test_triggerer_failover(cluster: AirflowCluster, system_emulator: EmulatorProcess) -> None:
    """Every wait deferred, the remote jobs held in PROCESSING; SIGKILL the triggerer's process
    group; jobs that end while no triggerer runs and jobs that end after the takeover are all
    reported by the new triggerer with the right outcome."""
    control = system_emulator.control
    held: dict[str, str] = {}  # which job (run name, auth_0/auth_1) -> remote job id, held in PROCESSING
    for name in ("seeded_ok", "seeded_fail"):
        seeded = control.seed_job(state="PROCESSING", lifecycle=True, outcome="PROCESSING", voice_name=name)
        held[name] = seeded["job_id"]
    runs = _trigger_all(
        cluster,
        {
            "pipeline_ok": (PIPELINE, {"voice_name": "failover-narrator"}),
            "pipeline_fail": (PIPELINE, {"voice_name": "fail-failover-narrator"}),
            "seeded_ok": (EXISTING, {"job_id": held["seeded_ok"]}),
            "seeded_fail": (EXISTING, {"job_id": held["seeded_fail"]}),
            "auth_modes": (AUTH_MODES, {"voice_name": "failover-auth-modes"}),
        },
        "failover",
    )
    waits = [
        (runs["pipeline_ok"], "wait_for_voice"),
        (runs["pipeline_fail"], "wait_for_voice"),
        (runs["seeded_ok"], "get_result"),
        (runs["seeded_fail"], "get_result"),
        (runs["auth_modes"], "create_and_wait"),
        (runs["auth_modes"], "wait_for_voice"),
        (runs["auth_modes"], "collect_result"),
    ]
    created_by_voice = {"failover-narrator": "pipeline_ok", "fail-failover-narrator": "pipeline_fail"}

    def hold_new_jobs() -> None:
        """Hold each job the DAGs create in PROCESSING as soon as it exists."""
        for job in control.jobs():
            name, job_id = job["meta"].get("voice_name"), job["job_id"]
            if job_id in held.values():
                continue
            if name in created_by_voice:
                held[created_by_voice[name]] = job_id
            elif name == "failover-auth-modes":
                held[f"auth_{sum(k.startswith('auth_') for k in held)}"] = job_id
            else:
                continue
            assert control.set_outcome(job_id, "PROCESSING")["outcome_override"] == "PROCESSING"

    def all_deferred() -> bool:
        hold_new_jobs()
        states = {(run.run_id, task): cluster.task_states(*run.key).get(task) for run, task in waits}
        bad = {k: v for k, v in states.items() if v in ("failed", "success", "upstream_failed")}
        # (up_for_retry is Airflow's start race on 3.0.6, absorbed by one retry; see cluster.py)
        assert not bad, f"a wait ended before the failover: {bad}"
        if len(held) < 6 or any(state != "deferred" for state in states.values()):
            return False
        # and the triggerer runs every trigger (it writes the trigger log when it starts one)
        owners = set(cluster.live_trigger_owners().values())
        if len(owners) != 1 or None in owners:
            return False
        triggerer = owners.pop()
        return all(triggerer in cluster.trigger_logs(*run.key, task) for run, task in waits)

    started = time.monotonic()
    _wait("every wait deferred", all_deferred, 150, cluster)
    deferred_after = time.monotonic() - started
    assert all(_in_progress(control, job_id) for job_id in held.values()), held

    old_triggerer = max(cluster.triggerer_job_ids())
    owners = cluster.live_trigger_owners()
    assert len(owners) == len(waits) and set(owners.values()) == {old_triggerer}, (owners, old_triggerer)

    killed_at = time.time()
    kill_clock = time.monotonic()
    cluster.replace_triggerer()  # SIGKILL of the group (asserted gone), then a new triggerer
    # released while no triggerer is alive: the seeded job is FAILED at once, the pipeline's job
    # follows its normal timeline (ends now or soon); the new triggerer must report both
    control.set_outcome(
        held["seeded_fail"], "fail", job_failed_code=FAILOVER_CODE, job_failed_reason=FAILOVER_REASON
    )
    control.set_outcome(held["pipeline_ok"], None)

    def taken_over() -> bool:
        new = [i for i in cluster.triggerer_job_ids() if i > old_triggerer]
        owners = cluster.live_trigger_owners()
        return bool(new) and bool(owners) and set(owners.values()) == {new[-1]}

    _wait("the new triggerer to take the triggers over", taken_over, 90, cluster)
    takeover_seconds = time.monotonic() - kill_clock
    new_triggerer = max(cluster.triggerer_job_ids())
    # the rest end under the new triggerer
    control.set_outcome(held["seeded_ok"], "SUCCEED")
    for name in ("pipeline_fail", "auth_0", "auth_1"):
        control.set_outcome(held[name], None)

    final = cluster.wait_for_runs([run.key for run in runs.values()], timeout=120)
    total = time.monotonic() - started
    print(
        f"\nfailover: all deferred after {deferred_after:.1f}s, takeover {takeover_seconds:.1f}s after "
        f"SIGKILL (health threshold {TRIGGERER_HEALTH_THRESHOLD}s), runs done after {total:.1f}s"
    )
    outcomes = {name: final[run.key] for name, run in runs.items()}
    assert outcomes == {
        "pipeline_ok": "success",
        "pipeline_fail": "failed",
        "seeded_ok": "success",
        "seeded_fail": "success",
        "auth_modes": "success",
    }, "\n".join(cluster.explain(*run.key) for run in runs.values())
    ok, fail = runs["pipeline_ok"], runs["pipeline_fail"]
    assert cluster.task_states(*ok.key) == dict.fromkeys(PIPELINE_TASKS, "success")
    assert cluster.xcom(*ok.key, "use_voice") == control.job(held["pipeline_ok"])["view"]["asset_id"]
    assert cluster.task_states(*fail.key)["wait_for_voice"] == "failed"
    assert cluster.xcom(*fail.key, "wait_for_voice", "failure_details")["state"] == "FAILED"
    seeded_ok, seeded_fail = runs["seeded_ok"], runs["seeded_fail"]
    assert cluster.task_states(*seeded_ok.key) == {
        "find_job": "success",
        "get_result": "success",
        "route": "success",
        "use_voice": "success",
        "report_failure": "skipped",
    }
    assert cluster.xcom(*seeded_ok.key, "use_voice") == control.job(held["seeded_ok"])["view"]["asset_id"]
    assert cluster.task_states(*seeded_fail.key)["report_failure"] == "success"
    report = cluster.xcom(*seeded_fail.key, "report_failure")["report"]
    assert FAILOVER_CODE in report and FAILOVER_REASON in report
    assert cluster.task_states(*runs["auth_modes"].key) == dict.fromkeys(AUTH_MODES_TASKS, "success")

    # the new triggerer looked at every held job: a show of it, or (shared polling: the first
    # look's show is dropped when a list cycle answers first) a list call of its app user
    after_kill = [e for e in control.requests() if e["time"] > killed_at]
    shown = {e["path"].rsplit("/", 1)[-1] for e in after_kill if e["route"] == "show_job"}
    listed_users = {e["app_user_id"] for e in after_kill if e["route"] == "list_jobs"}
    unseen = {
        job_id
        for job_id in held.values()
        if job_id not in shown and control.job(job_id)["app_user_id"] not in listed_users
    }
    assert not unseen, f"never looked at after the kill: {unseen}"
    auth = runs["auth_modes"]
    job_of = {
        (runs["pipeline_ok"], "wait_for_voice"): held["pipeline_ok"],
        (runs["pipeline_fail"], "wait_for_voice"): held["pipeline_fail"],
        (runs["seeded_ok"], "get_result"): held["seeded_ok"],
        (runs["seeded_fail"], "get_result"): held["seeded_fail"],
        (auth, "create_and_wait"): cluster.xcom(*auth.key, "create_and_wait", "job_id"),
        (auth, "wait_for_voice"): cluster.xcom(*auth.key, "create_only"),
        (auth, "collect_result"): cluster.xcom(*auth.key, "create_only"),
    }
    for run, task_id in waits:
        where = f"{run.run_id}/{task_id}"
        # one try ran: the wait resumed where it was, it was not retried or restarted
        try_number = cluster.task_instances(*run.key)[task_id]["try_number"]
        assert cluster.started_tries(*run.key, task_id) == [try_number], where
        # a trigger log from each triggerer; only the new one saw the job end
        logs = cluster.trigger_logs(*run.key, task_id)
        assert {old_triggerer, new_triggerer} <= set(logs), f"{where}: trigger logs {logs}"
        job_id = job_of[(run, task_id)]
        try:
            _wait_for_log_line([logs[new_triggerer]], f"Job {job_id}", where)
        except AssertionError:
            # Airflow 3.0's triggerer can drop the last lines of a trigger that ends right after
            # it started (seen under load): then the event's state history, which the new
            # triggerer's trigger began afresh, must be in the resumed task's log instead
            task_logs = cluster.task_log_dir(*run.key, task_id).glob("attempt=*.log")
            text = "".join(p.read_text(errors="replace") for p in task_logs if ".trigger." not in p.name)
            assert f"Job {job_id} went " in text, f"{where}: neither trigger nor task log has the wait"
        assert "Trigger fired event" not in logs[old_triggerer].read_text(errors="replace"), where


# ------------------------------------------------------------------------------------- secrets
def test_no_credential_in_logs_xcom_rendered_fields_or_triggers(
    cluster: AirflowCluster, main_runs: MainRuns, system_emulator: EmulatorProcess
) -> None:
    secrets = emulator_secrets(system_emulator.config)
    tokens = system_emulator.control.tokens()
    assert len(tokens) >= 2, tokens
    scanner = SecretScanner(secrets, tokens)

    files = sorted(p for p in cluster.logs.rglob("*") if p.is_file())
    trigger_logs = [p for p in files if ".log.trigger." in p.name]
    task_logs = [p for p in files if p.name.startswith("attempt=") and p not in trigger_logs]
    other_logs = [p for p in files if p not in trigger_logs and p not in task_logs]
    component_files = sorted(p for p in cluster.component_logs.iterdir() if p.is_file())
    for category, paths in (
        ("task logs", task_logs),
        ("trigger logs", trigger_logs),
        ("other Airflow logs", other_logs),
        ("component stdout/stderr", component_files),
    ):
        for path in paths:
            scanner.scan_file(category, path)

    with cluster.db() as con:
        xcoms = con.execute("SELECT dag_id, run_id, task_id, key, value FROM xcom").fetchall()
        rendered = con.execute(
            "SELECT dag_id, run_id, task_id, rendered_fields FROM rendered_task_instance_fields"
        ).fetchall()
        live = con.execute("SELECT id, created_date, classpath, kwargs FROM trigger").fetchall()
        next_kwargs = con.execute(
            "SELECT dag_id, run_id, task_id, next_kwargs FROM task_instance WHERE next_kwargs IS NOT NULL"
        ).fetchall()
    for *where, value in xcoms:
        scanner.scan_text("XCom values", "/".join(where), _text(value))
    for *where, value in rendered:
        scanner.scan_text("rendered template fields", "/".join(where), _text(value))
    for *where, value in next_kwargs:
        scanner.scan_text("task_instance.next_kwargs", "/".join(where), _text(value))
    triggers = {(s.trigger_id, s.created): (s.classpath, s.kwargs) for s in cluster.sampler.trigger_samples()}
    triggers.update({(int(i), str(created)): (classpath, kwargs) for i, created, classpath, kwargs in live})
    for (trigger_id, _), (classpath, stored) in sorted(triggers.items()):
        decrypted = decrypt_trigger_kwargs(cluster.fernet_key, stored)
        assert classpath != TRIGGER_CLASSPATH or "job_id" in decrypted, decrypted
        scanner.scan_text("trigger rows (decrypted kwargs)", f"trigger {trigger_id}", decrypted)

    print(f"\nsecret scan: {len(secrets)} secrets + {scanner.token_count} issued tokens; {scanner.summary()}")
    # the scan saw real material, not an empty home
    tally = scanner.tally
    assert tally["task logs"].items >= 12 and tally["trigger logs"].items >= 5
    assert tally["component stdout/stderr"].items >= 8 and tally["component stdout/stderr"].bytes > 50_000
    assert tally["XCom values"].items >= 20 and tally["rendered template fields"].items >= 10
    assert tally["trigger rows (decrypted kwargs)"].items >= 5
    assert sum(t.bytes for t in tally.values()) > 200_000
    assert not scanner.findings, "credentials found:\n" + "\n".join(map(str, scanner.findings[:40]))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
