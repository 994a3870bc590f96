"""A retry never trains twice, for real: ``dag.test()`` retries the create operator after injected
faults (the connection has ``max_retries=0``, so one fault fails the call), and the emulator's
request log and job list count what reached the service. On Airflow 3.3+ the retry finds the
earlier job in the task state store, on 3.0-3.2 by its batch name: the same outcomes.

Scenarios (remote jobs left in brackets): the wait fails in the worker or the trigger reports an
``error`` event, and the retry waits for the running job [1]; the job finished before the retry,
which returns its ``asset_id`` [1]; the job failed before the retry, which reports that failure
instead of training again [1], while a cleared task trains again; the upload fails, or the
commit fails or loses its answer, and the retry finishes that job [1]; a wait timeout is final,
not retried [1, or 0 with ``on_abort="delete"``]; the last try gives up and releases the job
[0]; a user-chosen batch name [1]; a commit that moves the job to another end user is followed
[1].
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining.packages import make_synthetic_package
from metastudio_emulator import EmulatorServer
from tests.airflow_helpers import RunResult, run_dag

NO_RETRIES = {"max_retries": 0}
FAIL_ONE_POLL = [{"route": "show_job", "kind": "status", "status": 500, "times": 1}]
#: the worker's first poll passes; the trigger's first poll fails (an ``error`` event)
FAIL_TRIGGER_POLL = [{"route": "show_job", "kind": "status", "status": 500, "after": 1, "times": 1}]


@pytest.fixture
def package(tmp_path: Path) -> str:
    return make_synthetic_package(tmp_path / "basic.zip", "basic", seconds=0.01)


def _statuses(emu: EmulatorServer, route: str) -> list[int]:
    return [r["status"] for r in emu.control.requests(route=route)]


def _voice_jobs(emu: EmulatorServer) -> list[dict[str, Any]]:
    return [j for j in emu.control.jobs() if j["kind"] == "voice"]


def _only_job(emu: EmulatorServer, result: RunResult, task_id: str = "create") -> dict[str, Any]:
    jobs = _voice_jobs(emu)
    assert len(jobs) == 1, [(j["job_id"], j["state"]) for j in jobs]
    assert _statuses(emu, "create_basic_job") == [200]
    assert result.xcom(task_id, "job_id") == jobs[0]["job_id"]
    return jobs[0]


def _succeed_time(job: dict[str, Any]) -> float:
    passed = job["commits"][-1]["passed"]
    assert passed[-1]["state"] == "SUCCEED", passed
    return float(passed[-1]["entered_at"])


def _running_retry_started_at(dag_id: str) -> float | None:
    """When try 2+ of ``create`` started (the metadata database dag.test() writes)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with contextlib.suppress(Exception), create_session() as session:  # SQLite busy: look again
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, task_id="create").one_or_none()
        # running, or already deferred again: a deferrable retry may pass through running
        # between two looks of the watcher
        started = ti is not None and ti.try_number >= 2 and str(ti.state) in ("running", "deferred")
        if started and ti.start_date:
            return float(ti.start_date.timestamp())
    return None


@contextlib.contextmanager
def _held_until_the_retry_looks(emu: EmulatorServer, dag_id: str) -> Iterator[None]:
    """Hold the run's voice job in PROCESSING from its commit until the retry (try 2) runs and
    has asked the service about it, then let it finish: the retry finds the job running, however
    slowly the machine gets there (no race against the job's timeline)."""
    stop = threading.Event()

    def watch() -> None:
        job_id = None
        while not stop.wait(0.05):
            if job_id is None:
                jobs = _voice_jobs(emu)
                if jobs:
                    job_id = jobs[0]["job_id"]
                    emu.control.set_outcome(job_id, "PROCESSING")
                continue
            started = _running_retry_started_at(dag_id)
            if started is not None and any(
                r["time"] > started and (r["route"] == "list_jobs" or job_id in r["path"])
                for r in emu.control.requests()
            ):
                emu.control.set_outcome(job_id, None)
                return

    watcher = threading.Thread(target=watch, name="hold-until-retry", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(5)


@pytest.mark.parametrize(
    ("dag_id", "faults"),
    [
        ("t_retry_inline_leave", FAIL_ONE_POLL),
        ("t_retry_inline_delete", FAIL_ONE_POLL),
        ("t_retry_deferrable_leave", FAIL_TRIGGER_POLL),
        ("t_retry_deferrable_delete", FAIL_TRIGGER_POLL),
    ],
)
def test_a_failed_wait_is_retried_and_the_retry_waits_for_the_same_job(
    slow_emu, use_conn, dagbag, package, dag_id: str, faults: list[dict[str, Any]]
) -> None:  # type: ignore[no-untyped-def]
    use_conn(slow_emu, **NO_RETRIES)
    slow_emu.control.set_faults(faults)
    with _held_until_the_retry_looks(slow_emu, dag_id):
        result = run_dag(dagbag, dag_id, {"package": package, "voice_name": "retry-wait"})
    assert result.instances[("create", -1)] == ("success", 2)
    job = _only_job(slow_emu, result)
    assert slow_emu.control.faults()["triggered"] == {"status": 1}
    # the retry found the job still running and waited for it (on_abort="delete" kept it too)
    assert _succeed_time(job) > result.started[("create", -1)]
    assert result.xcom("create") == job["view"]["asset_id"]
    assert _statuses(slow_emu, "commit_job") == [200] and _statuses(slow_emu, "obs_upload") == [200]
    assert _statuses(slow_emu, "delete_job") == []
    # the internal marker of the try that deferred: an XCom only where Airflow needs it (< 3.3)
    deferred = "deferrable" in dag_id
    assert ("deferred_in_try" in result.xcom_keys("create")) == (deferred and not compat.AIRFLOW_V_3_3_PLUS)


def test_a_job_that_finished_before_the_retry_is_returned(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults(FAIL_ONE_POLL)
    result = run_dag(dagbag, "t_retry_later", {"package": package, "voice_name": "retry-done"})
    assert result.instances[("create", -1)] == ("success", 2)
    job = _only_job(emu, result)
    assert _succeed_time(job) < result.started[("create", -1)]  # done before the retry began
    assert result.xcom("create") == job["view"]["asset_id"]
    assert result.xcom("create", "job")["state"] == "SUCCEED"
    assert _statuses(emu, "commit_job") == [200]


def test_a_job_that_failed_before_the_retry_is_reported_not_trained_again(
    emu, use_conn, dagbag, package
) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults(FAIL_ONE_POLL)
    result = run_dag(dagbag, "t_retry_later", {"package": package, "voice_name": "fail-retry"})
    # try 1 never saw its job fail (its poll failed); the retry finds it FAILED and ends as try 1
    # would have: the failure, final, with its details; no second (paid) training
    assert result.instances[("create", -1)] == ("failed", 2)
    (job,) = _voice_jobs(emu)
    assert job["state"] == "FAILED"
    assert _statuses(emu, "create_basic_job") == [200]
    assert result.xcom("create", "job_id") == job["job_id"]
    details = result.xcom("create", "failure_details")
    assert (details["job_id"], details["job_failed_code"]) == (job["job_id"], job["view"]["job_failed_code"])


def test_a_failed_upload_is_finished_by_the_retry(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults([{"route": "obs_upload", "kind": "status", "status": 500, "times": 1}])
    result = run_dag(dagbag, "t_retry_nowait", {"package": package, "voice_name": "retry-upload"})
    assert result.instances[("create", -1)] == ("success", 2)
    job = _only_job(emu, result)
    assert result.xcom("create") == job["job_id"] and job["app_user_id"] == "tenant-r"
    # the retry fetched fresh upload URLs, uploaded again and committed the same job
    assert _statuses(emu, "obs_upload") == [500, 200]
    assert _statuses(emu, "show_uploading_address") == [200]
    assert _statuses(emu, "commit_job") == [200] and job["commits"]
    assert _statuses(emu, "delete_job") == []


@pytest.mark.parametrize(
    ("fault", "commits"),
    [
        # refused, never processed: the retry uploads again and commits
        ({"route": "commit_job", "kind": "status", "status": 500, "times": 1}, [500, 200]),
        # processed, answer lost: the retry sees the committed job and does not commit again
        ({"route": "commit_job", "kind": "drop", "process": True, "times": 1}, None),
    ],
    ids=["refused", "answer-lost"],
)
def test_a_failed_commit_is_settled_by_the_retry(
    emu, use_conn, dagbag, package, fault: dict[str, Any], commits: list[int] | None
) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults([fault])
    result = run_dag(dagbag, "t_retry_nowait", {"package": package, "voice_name": "retry-commit"})
    assert result.instances[("create", -1)] == ("success", 2)
    job = _only_job(emu, result)
    assert len(job["commits"]) == 1 and job["state"] != "CREATING"
    if commits is not None:
        assert _statuses(emu, "commit_job") == commits
    else:
        assert len(emu.control.requests(route="commit_job")) == 1
    assert _statuses(emu, "delete_job") == []


#: each upload takes longer than the 1 s wait_timeout: the wait's deadline has passed before the
#: first poll, which must still be a look (the final one), not a transport error that is retried
SLOW_UPLOADS = [{"route": "obs_upload", "kind": "latency", "rate": 1.0, "min_delay": 1.2, "max_delay": 1.2}]


@pytest.mark.parametrize("slow_upload", [False, True], ids=["", "upload-past-the-deadline"])
@pytest.mark.parametrize("style", ["inline", "deferrable"])
def test_a_wait_timeout_is_final_and_on_abort_applies_once(
    emu, use_conn, dagbag, package, style: str, slow_upload: bool
) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    if slow_upload:
        emu.control.set_faults(SLOW_UPLOADS)
    result = run_dag(dagbag, f"t_retry_{style}_timeout", {"package": package, "voice_name": "review-timeout"})
    # retries=2, but a timeout is not retried: one try each
    assert result.instances[("leave", -1)] == ("failed", 1)
    assert result.instances[("delete", -1)] == ("failed", 1)
    assert _statuses(emu, "create_basic_job") == [200, 200]
    (left,) = _voice_jobs(emu)  # the delete task's job is gone, and was not replaced
    assert left["job_id"] == result.xcom("leave", "job_id")
    # left alone, it goes on to the review state (which a wait past its deadline may not have seen)
    deadline = time.monotonic() + 30
    while emu.control.job(left["job_id"])["state"] != "USER_RESULT_REVIEW" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emu.control.job(left["job_id"])["state"] == "USER_RESULT_REVIEW"
    assert _statuses(emu, "delete_job") == [200]
    assert emu.control.requests(route="delete_job")[0]["path"].endswith(result.xcom("delete", "job_id"))


def test_the_last_try_releases_the_job(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults(FAIL_ONE_POLL)
    result = run_dag(dagbag, "t_retry_last_try", {"package": package, "voice_name": "retry-last"})
    assert result.instances[("create", -1)] == ("failed", 1)
    assert _voice_jobs(emu) == []  # on_abort="delete", and no retry follows
    assert _statuses(emu, "delete_job") == [200]


def test_a_user_batch_name_on_each_airflow_version(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults(FAIL_ONE_POLL)
    result = run_dag(dagbag, "t_retry_user_batch", {"package": package, "voice_name": "retry-batch"})
    (job,) = _voice_jobs(emu)
    assert _statuses(emu, "create_basic_job") == [200]
    assert job["meta"]["batch_name"] == "campaign-7"  # the user's batch name is kept verbatim
    if compat.AIRFLOW_V_3_3_PLUS:
        # the task state store names the job: the retry reconnects
        assert result.instances[("create", -1)] == ("success", 2)
        assert result.xcom("create") == job["view"]["asset_id"]
    else:
        # nothing proves the job is this task's: the retry refuses (not retried) to create a second
        assert result.instances[("create", -1)] == ("failed", 2)
        assert result.xcom("create", "job_id") is None


def test_a_commit_that_moves_the_job_to_another_user_is_followed(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_commit_moves_job", {"package": package, "voice_name": "moving"})
    assert result.instances[("create", -1)] == ("success", 1)
    job = _only_job(emu, result)
    assert (job["app_user_id"], job["meta"]["voice_name"]) == ("tenant-b", "renamed-voice")
    assert result.xcom("create") == job["view"]["asset_id"]
    commit = emu.control.requests(route="commit_job")[0]
    assert commit["app_user_id"] == "tenant-a"  # the header: the owner at create time
    polls = {r["app_user_id"] for r in emu.control.requests(route="show_job")}
    assert polls == {"tenant-b"}  # after the commit the task follows the job to its new owner


@pytest.mark.skipif(
    not compat.AIRFLOW_V_3_3_PLUS,
    reason="dag.test() on 3.0-3.2 records no DAG version, so clear_task_instances cannot read retries",
)
def test_a_cleared_task_begins_a_new_series_that_may_train_again(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    """The rule that tells a retry from a rerun is Airflow's own: clearing sets ``max_tries`` to
    the last try plus ``retries``, so the next try is ``max_tries - retries + 1``."""
    from types import SimpleNamespace

    from airflow.models.taskinstance import TaskInstance, clear_task_instances
    from airflow.utils.session import create_session

    use_conn(emu, **NO_RETRIES)
    emu.control.set_faults(FAIL_ONE_POLL)
    result = run_dag(dagbag, "t_retry_later", {"package": package, "voice_name": "fail-cleared"})
    retries = dagbag.get_dag("t_retry_later").get_task("create").retries
    assert retries >= 1 and result.instances[("create", -1)] == ("failed", 2)

    def next_try(ti: Any) -> Any:
        runtime = SimpleNamespace(
            try_number=ti.try_number + 1, max_tries=ti.max_tries, task=SimpleNamespace(retries=retries)
        )
        return compat.first_try({"ti": runtime}), runtime.try_number

    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter_by(dag_id=result.dag_id, run_id=result.run_id, task_id="create")
            .one()
        )
        assert (
            compat.first_try(
                {
                    "ti": SimpleNamespace(
                        try_number=2, max_tries=ti.max_tries, task=SimpleNamespace(retries=retries)
                    )
                }
            )
            == 1
        )
        clear_task_instances([ti], session)
        session.flush()
        first, upcoming = next_try(ti)
    assert first == upcoming == 3  # try 3 begins a new series: a failed job is replaced
