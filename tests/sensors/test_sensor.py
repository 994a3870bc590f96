"""VoiceTrainingJobSensor in poke, reschedule and deferrable modes, run for real with dag.test()
against the emulator: success and each failure class, soft_fail, waiting on a person, XCom."""

from __future__ import annotations

import pytest

from airflow_provider_voicetraining.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor
from tests.airflow_helpers import run_dag

MODES = ["poke", "reschedule", "deferrable"]


def skip_reschedule_timeout_on_3_0(mode: str) -> None:
    """Airflow 3.0's in-process dag.test() supervisor hands the sensor its first reschedule date
    as a string (``model_construct`` without validation), so a reschedule-mode sensor crashes
    with a TypeError when it checks its timeout. Real runs validate the message; 3.1 fixed it."""
    from airflow_provider_voicetraining.version_compat import AIRFLOW_V_3_1_PLUS

    if mode == "reschedule" and not AIRFLOW_V_3_1_PLUS:
        pytest.skip("Airflow 3.0 dag.test(): reschedule-mode sensor timeouts crash inside Airflow")


@pytest.mark.parametrize("mode", MODES)
def test_success_returns_the_job(emu, use_conn, dagbag, mode: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="SUCCEED", asset_id=f"asset-{mode}", voice_name="sensed")["job_id"]
    result = run_dag(dagbag, f"t_sensor_{mode}", {"job_id": job_id})
    assert result.tasks == {"wait": "success"}
    job = result.xcom("wait")
    assert job["asset_id"] == f"asset-{mode}" and job["state"] == "SUCCEED" and job["voice_name"] == "sensed"
    assert result.xcom("wait", "console_url").endswith(job_id)


@pytest.mark.parametrize("mode", MODES)
def test_waits_through_the_lifecycle(emu, use_conn, dagbag, tmp_path, mode: str) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name=f"live-{mode}")
    hook.upload_training_data(
        created.upload_urls.training_data_uploading_url,  # type: ignore[arg-type]
        make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01),
    )
    hook.commit_job(created.job_id)
    result = run_dag(dagbag, f"t_sensor_{mode}", {"job_id": created.job_id})
    assert result.tasks == {"wait": "success"}
    assert result.xcom("wait")["asset_id"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("seed", "state_class"),
    [
        ({"state": "FAILED", "job_failed_code": "MSS.20001001", "job_failed_reason": "noise"}, "failure"),
        ({"state": "SPLIT_FAILED"}, "failure"),
        ({"state": "AUDIT_FAILED"}, "needs_action"),
    ],
)
def test_failure_classes_fail_with_details(emu, use_conn, dagbag, mode, seed, state_class) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(**seed)["job_id"]
    result = run_dag(dagbag, f"t_sensor_{mode}", {"job_id": job_id})
    assert result.tasks == {"wait": "failed"}
    details = result.xcom("wait", "failure_details")
    assert details["job_id"] == job_id and details["state"] == seed["state"]
    assert details["state_class"] == state_class
    if "job_failed_code" in seed:
        assert (details["job_failed_code"], details["job_failed_reason"]) == ("MSS.20001001", "noise")
    assert result.xcom("wait", "job")["state"] == seed["state"]


@pytest.mark.parametrize("mode", MODES)
def test_soft_fail_skips_on_failure(emu, use_conn, dagbag, mode: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="FAILED")["job_id"]
    assert run_dag(dagbag, f"t_sensor_{mode}_soft", {"job_id": job_id}).tasks == {"wait": "skipped"}


@pytest.mark.parametrize("mode", MODES)
def test_soft_fail_skips_on_timeout(emu, use_conn, dagbag, mode: str) -> None:  # type: ignore[no-untyped-def]
    skip_reschedule_timeout_on_3_0(mode)
    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    assert run_dag(dagbag, f"t_sensor_{mode}_soft", {"job_id": job_id}).tasks == {"wait": "skipped"}


@pytest.mark.parametrize("mode", MODES)
def test_needs_action_states_can_be_waited_for(emu, use_conn, dagbag, mode: str) -> None:  # type: ignore[no-untyped-def]
    """AUDIT_FAILED left out of failure_states: the sensor keeps waiting, here until its timeout."""
    skip_reschedule_timeout_on_3_0(mode)
    use_conn(emu)
    job_id = emu.control.seed_job(state="AUDIT_FAILED")["job_id"]
    result = run_dag(dagbag, f"t_sensor_{mode}_waits_for_review", {"job_id": job_id})
    assert result.tasks == {"wait": "failed"}
    assert result.xcom("wait", "failure_details") is None  # it timed out; the job did not fail it
    assert len(emu.control.requests(route="show_job")) >= 2


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_transient_errors_do_not_fail_the_sensor(emu, use_conn, dagbag, mode: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=0)
    job_id = emu.control.seed_job(state="SUCCEED", asset_id="after-blip")["job_id"]
    # every API route: the trigger learns from list calls (shared polling), pokes from shows
    emu.control.set_faults([{"route": "*", "kind": "status", "status": 503, "times": 3}])
    result = run_dag(dagbag, f"t_sensor_{mode}", {"job_id": job_id})
    assert result.tasks == {"wait": "success"}
    assert [r["status"] for r in emu.control.requests()][:3] == [503, 503, 503]


def test_bad_job_id_fails_before_any_request(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_sensor_poke", {"job_id": "../../etc/passwd"})
    assert result.tasks == {"wait": "failed"}
    assert emu.control.requests() == []


def test_state_changes_are_logged_once_each(emu, use_conn, caplog, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import logging

    from airflow_provider_voicetraining._wait_rules import StateLog

    log = logging.getLogger("state-log-test")
    states = StateLog(log, "job-1", started_at=0)
    with caplog.at_level(logging.INFO, logger="state-log-test"):
        for state in ["WAITING", "WAITING", "PROCESSING", "PROCESSING", "PROCESSING", "SUCCEED"]:
            states.observe(state)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "WAITING -> PROCESSING" in messages[1] and "PROCESSING -> SUCCEED" in messages[2]


def test_state_history_is_bounded_and_described_in_one_line() -> None:
    import logging

    from airflow_provider_voicetraining._wait_rules import (
        MAX_HISTORY,
        StateLog,
        describe_history,
        make_event,
    )

    states = StateLog(logging.getLogger("state-log-test"), "job-1", started_at=0)
    for i in range(MAX_HISTORY + 10):  # a job flapping between states for a long time
        states.observe("WAITING" if i % 2 else "PROCESSING")
    event = make_event("timeout", "job-1", message="deadline", states=states)
    history = event["history"]
    assert len(history) == MAX_HISTORY + 1 and history[1] == "..." and history[0][0] == "PROCESSING"
    line = describe_history("job-1", history)
    assert line is not None and line.startswith("Job job-1 went PROCESSING (") and " -> ... -> " in line
    assert describe_history("job-1", None) is None and describe_history("job-1", []) is None


def test_resumed_task_logs_the_state_history(caplog, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """execute_complete writes the trigger's state history into the task log."""
    import logging

    from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

    sensor = VoiceTrainingJobSensor(task_id="s", job_id="job-1", asset_alias=None)  # no connection here
    logger = logging.getLogger("history-test")  # stands in for the task logger, captured
    monkeypatch.setattr(VoiceTrainingJobSensor, "log", property(lambda self: logger))
    event = {
        "status": "success",
        "job_id": "job-1",
        "message": "ok",
        "job": {"job_id": "job-1", "asset_id": "a-1"},
        "failure": None,
        "history": [["WAITING", 0.0], ["PROCESSING", 12.4], ["SUCCEED", 812.0]],
    }
    with caplog.at_level(logging.INFO, logger="history-test"):
        assert sensor.execute_complete({}, event)["asset_id"] == "a-1"  # type: ignore[arg-type]
    assert "Job job-1 went WAITING (0s) -> PROCESSING (12s) -> SUCCEED (812s)" in caplog.text


def test_defaults_and_validation(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sensor = VoiceTrainingJobSensor(task_id="s", job_id="{{ x }}")
    assert sensor.deferrable is False and sensor.poke_interval == 60
    assert "job_id" in sensor.template_fields
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "True")
    assert VoiceTrainingJobSensor(task_id="s2", job_id="j").deferrable is True
    with pytest.raises(VoiceTrainingValidationError, match="failure_states"):
        VoiceTrainingJobSensor(task_id="s3", job_id="j", failure_states=["AUDIT_FAILED"])
    with pytest.raises(VoiceTrainingValidationError, match="failure_states"):
        VoiceTrainingJobSensor(task_id="s4", job_id="j", failure_states="FAILED")


def test_the_deferred_trigger_knows_when_the_job_was_seen_waiting(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """The poll before deferring saw the job waiting: the trigger carries that time, so a
    shared poller's list (not a show) answers its first look, also after a failover."""
    import time

    from airflow_provider_voicetraining.version_compat import TaskDeferred
    from tests.test_fault_matrix import RecordingTI

    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    sensor = VoiceTrainingJobSensor(task_id="wait", job_id=job_id, deferrable=True, timeout=60)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"ti": RecordingTI()})  # type: ignore[arg-type]
    seen = deferred.value.trigger.serialize()[1]["seen_waiting_at"]
    shows = [r for r in emu.control.requests() if r["route"] == "show_job"]
    assert len(shows) == 1 and before <= seen <= shows[0]["time"]
