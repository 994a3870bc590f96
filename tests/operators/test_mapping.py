"""Dynamic task mapping, for real with ``dag.test()``: the create, result and assessment operators
and the sensor with ``partial``/``expand``/``expand_kwargs`` and in a mapped task group,
deferrable and not (DAGs in ``tests/dags/voice_training_mapped_dags.py``). Each mapped instance
makes exactly one remote job, for its own end user, under its own batch identity."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_voicetraining.packages import make_synthetic_package
from tests.airflow_helpers import run_dag

VOICES = ["map-a", "map-b"]


@pytest.fixture
def package(tmp_path: Path) -> str:
    return make_synthetic_package(tmp_path / "basic.zip", "basic", seconds=0.01)


def _voice_jobs(emu) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return [j for j in emu.control.jobs() if j["kind"] == "voice"]


def test_mapped_create_operators_one_job_per_instance(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_mapped_create", {"package": package, "voices": VOICES})
    assert result.state == "success", result.instances
    jobs = {j["job_id"]: j for j in _voice_jobs(emu)}
    for task_id in ("create_deferrable", "create_inline"):
        assert result.mapped(task_id) == {0: "success", 1: "success"}
        for index, voice in enumerate(VOICES):
            job = jobs[result.xcom(task_id, "job_id", index)]
            # expand_kwargs: each instance got its own voice and end user
            assert job["meta"]["voice_name"] == voice and job["app_user_id"] == f"user-{voice}"
            assert result.xcom(task_id, map_index=index) == job["view"]["asset_id"]
    assert result.mapped("create_nowait") == {0: "success", 1: "success"}
    assert {result.xcom("create_nowait", map_index=i) for i in (0, 1)} <= set(jobs)
    # 3 mapped tasks x 2 instances, one job each, each under its own task-instance batch
    assert len(jobs) == 6
    batches = Counter(j["meta"]["batch_name"] for j in jobs.values())
    assert len(batches) == 6 and all(b.startswith("af-") for b in batches)


def test_mapped_result_operators_and_sensors(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    ids = [
        emu.control.seed_job(state="SUCCEED", asset_id="asset-0")["job_id"],
        emu.control.seed_job(state="PROCESSING", lifecycle=True, asset_id="asset-1")["job_id"],
    ]
    result = run_dag(dagbag, "t_mapped_wait", {"job_ids": ids})
    assert result.state == "success", result.instances
    for style in ("deferrable", "inline"):
        assert [result.xcom(f"result_{style}", map_index=i) for i in (0, 1)] == ["asset-0", "asset-1"]
        assert [result.xcom(f"sensor_{style}", map_index=i)["job_id"] for i in (0, 1)] == ids
    assert [result.xcom("sensor_reschedule", map_index=i)["asset_id"] for i in (0, 1)] == [
        "asset-0",
        "asset-1",
    ]


def test_mapped_assessments(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_mapped_assess", {"package": package, "voices": VOICES})
    assert result.state == "success", result.instances
    for task_id in ("assess_deferrable", "assess_inline"):
        for index in (0, 1):
            assessment = result.xcom(task_id, map_index=index)
            assert assessment["passed"] is True and assessment["problems"] == []
            assert assessment["job_id"] == result.xcom(task_id, "job_id", index)
    shorts = [j for j in emu.control.jobs() if j["kind"] == "short"]
    assert len(shorts) == 4 and _voice_jobs(emu) == []


def test_mapped_task_group(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_mapped_group", {"package": package, "voices": VOICES})
    assert result.state == "success", result.instances
    for index, voice in enumerate(VOICES):
        job_id = result.xcom("per_user.create", map_index=index)
        assert result.xcom("per_user.wait", map_index=index)["job_id"] == job_id
        assert result.xcom("per_user.wait", map_index=index)["voice_name"] == voice
        assert result.xcom("per_user.result", map_index=index) == emu.control.job(job_id)["view"]["asset_id"]
    assert len(_voice_jobs(emu)) == 2
