"""Fan-out and retries with real Airflow components (the cluster of ``conftest.py``).

* **Worker killed mid-wait**: a non-deferrable create-and-wait task is waiting in its worker for
  a job the emulator holds in ``PROCESSING``; the test SIGKILLs the task's process and the
  executor's worker process that supervises it (a worker crash: nothing can clean up or report).
  The scheduler notices the silent task, Airflow retries it, the retry reconnects to the job it
  finds (task state store on 3.3, batch name on 3.0) and returns its ``asset_id``: the emulator
  holds exactly one job for the task, uploaded and committed once. Clearing the task afterwards
  (a deliberate rerun) returns the same ``asset_id`` without a second job.
* **Mapped platform run** (at the same time): the platform example (one voice per end user)
  with two users, one with noisy recordings: two recording checks and one training, mapped and
  deferred in the real triggerer, one job per trained user.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from metastudio_emulator import EmulatorProcess
from tests.system.cluster import AirflowCluster, wait_until
from tests.system.conftest import PLATFORM, RETRIES

pytestmark = pytest.mark.system

KILLED_VOICE = "system-killed-narrator"
USERS = [
    {"user_id": "sys-user-1", "voice_name": "sys-user-1-narrator"},
    {"user_id": "sys-user-2", "voice_name": "sys-user-2-narrator", "noisy": True},
]


_wait = wait_until


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie (exited, not yet reaped) counts as gone
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _jobs_of(control: Any, voice_names: set[str]) -> list[dict[str, Any]]:
    return [j for j in control.jobs() if j["kind"] == "voice" and j["meta"].get("voice_name") in voice_names]


def _requests_for(control: Any, route: str, job_id: str, since: float = 0.0) -> list[dict[str, Any]]:
    return [r for r in control.requests(route=route) if job_id in r["path"] and r["time"] >= since]


def test_killed_worker_retries_into_the_same_job_and_a_rerun_reuses_it(
    cluster: AirflowCluster, system_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    control = system_emulator.control
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    clock = time.monotonic()
    platform = cluster.trigger(PLATFORM, "fanout_platform", {"users": USERS})
    run_id = cluster.trigger(RETRIES, "kill_mid_wait", {"voice_name": KILLED_VOICE, "pid_dir": str(pid_dir)})

    # hold the job in PROCESSING as soon as it exists: the wait is really in progress when killed
    job_id = _wait("the job", lambda: [j["job_id"] for j in _jobs_of(control, {KILLED_VOICE})], 90, cluster)[
        0
    ]
    control.set_outcome(job_id, "PROCESSING")
    _wait("the commit", lambda: control.job(job_id)["commits"], 30, cluster)
    _wait("the worker polling the job", lambda: _requests_for(control, "show_job", job_id), 30, cluster)
    tries = sorted(int(p.stem.split("-")[1]) for p in pid_dir.glob("try-*.pid"))
    killed_try = tries[-1]
    pids = json.loads((pid_dir / f"try-{killed_try}.pid").read_text())
    assert cluster.task_states(RETRIES, run_id)["create_and_wait"] == "running"
    killed_at = time.time()
    kill_clock = time.monotonic()
    for pid in (pids["worker"], pids["task"]):  # the supervisor first: nothing may report the try
        os.kill(pid, signal.SIGKILL)
    _wait("the killed processes to be gone", lambda: not any(_alive(p) for p in pids.values()), 10, cluster)

    # Airflow notices the silent try and retries; the retry looks at the job (store or listing)
    _wait("the retry", lambda: (pid_dir / f"try-{killed_try + 1}.pid").exists(), 90, cluster)
    retry_seconds = time.monotonic() - kill_clock
    _wait(
        "the retry reconnecting",
        lambda: _requests_for(control, "show_job", job_id, since=killed_at),
        30,
        cluster,
    )
    assert control.job(job_id)["state"] == "PROCESSING"  # still training when the retry took it over
    control.set_outcome(job_id, None)  # let it finish
    done = cluster.wait_for_runs([(RETRIES, run_id)], timeout=150)
    kill_run_seconds = time.monotonic() - clock
    final = {**done, **cluster.wait_for_runs([(PLATFORM, platform)], timeout=150)}
    total_seconds = time.monotonic() - clock
    assert final[(RETRIES, run_id)] == "success", cluster.explain(RETRIES, run_id)

    (job,) = _jobs_of(control, {KILLED_VOICE})  # exactly one remote job for the task
    assert job["job_id"] == job_id and job["state"] == "SUCCEED"
    assert len(job["commits"]) == 1
    assert len(_requests_for(control, "commit_job", job_id)) == 1
    assert len(_requests_for(control, "obs_upload", job_id)) == 1  # the retry did not upload again
    asset_id = cluster.xcom(RETRIES, run_id, "create_and_wait")
    assert asset_id == job["view"]["asset_id"]
    ti = cluster.task_instances(RETRIES, run_id)["create_and_wait"]
    assert ti["try_number"] == killed_try + 1
    assert cluster.started_tries(RETRIES, run_id, "create_and_wait")[-2:] == [killed_try, killed_try + 1]

    # a deliberate rerun: clearing the task returns the same voice, no second training
    rerun_clock = time.monotonic()
    response = cluster.request(
        "POST",
        f"/api/v2/dags/{RETRIES}/clearTaskInstances",
        json={"dry_run": False, "dag_run_id": run_id, "task_ids": ["create_and_wait"], "only_failed": False},
    )
    assert response.status_code == 200, response.text
    _wait("the rerun to start", lambda: cluster.run_state(RETRIES, run_id) != "success", 30, cluster)
    assert cluster.wait_for_runs([(RETRIES, run_id)], timeout=90)[(RETRIES, run_id)] == "success"
    rerun_seconds = time.monotonic() - rerun_clock
    assert cluster.xcom(RETRIES, run_id, "create_and_wait") == asset_id
    assert [j["job_id"] for j in _jobs_of(control, {KILLED_VOICE})] == [job_id]
    assert len(_requests_for(control, "commit_job", job_id)) == 1

    _check_platform_run(cluster, control, platform, final[(PLATFORM, platform)])
    print(
        f"\nkill: retry started {retry_seconds:.1f}s after SIGKILL (heartbeat timeout 12s); kill run done "
        f"{kill_run_seconds:.1f}s and platform run {total_seconds:.1f}s after the triggers; cleared rerun "
        f"{rerun_seconds:.1f}s; remote jobs for the task: 1"
    )


def _check_platform_run(cluster: AirflowCluster, control: Any, run_id: str, state: str) -> None:
    assert state == "success", cluster.explain(PLATFORM, run_id)
    states = cluster.task_states(PLATFORM, run_id)
    assert states == {
        "collect_requests": "success",
        "recordings_to_check": "success",
        "check_recordings": "success",
        "voices_to_train": "success",
        "train_voice": "success",
        "publish": "success",
    }
    for task_id in ("check_recordings", "train_voice"):  # mapped, and waiting in the triggerer
        assert "deferred" in cluster.sampler.states_of(PLATFORM, run_id, task_id), task_id
    report = cluster.xcom(PLATFORM, run_id, "publish")
    trained = {j["app_user_id"]: j for j in _jobs_of(control, {u["voice_name"] for u in USERS})}
    assert set(trained) == {"sys-user-1"}  # one job per user who passed the check
    assert report["sys-user-1"] == {"asset_id": trained["sys-user-1"]["view"]["asset_id"]}
    assert report["sys-user-2"]["rejected"] == ["snr"]
    checks = [j for j in control.jobs() if j["kind"] == "short" and str(j["app_user_id"]).startswith("sys-")]
    assert sorted(j["app_user_id"] for j in checks) == ["sys-user-1", "sys-user-2"]
