"""A trained voice is an Airflow asset: every task that sees a voice succeed emits an event for
``metastudio://<region>/<project_id>/voices/<asset_id>`` through the ``metastudio_voices`` alias,
with the job's ids in the extra; failures emit nothing. Real runs (``dag.test()``) against the
emulator, events read back from Airflow's database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_voicetraining.assets import VOICE_ALIAS, voice_uri
from tests.airflow_helpers import run_dag

PROJECT = "0123456789abcdef0123456789abcdef"


def _expected(job: dict[str, Any], task_id: str, app_user_id: str | None = None) -> dict[str, Any]:
    return {
        "uri": voice_uri("cn-north-4", PROJECT, job["asset_id"]),
        "extra": {
            "asset_id": job["asset_id"],
            "job_id": job["job_id"],
            "voice_name": job["voice_name"],
            "app_user_id": app_user_id,
        },
        "task_id": task_id,
        "aliases": [VOICE_ALIAS],
    }


@pytest.mark.parametrize(
    ("dag_id", "task_id", "job_key"),
    [
        ("t_sensor_poke", "wait", "return_value"),
        ("t_sensor_deferrable", "wait", "return_value"),
        ("t_result_deferrable_fail", "result", "job"),
        ("t_result_inline_fail", "result", "job"),
    ],
)
def test_sensor_and_result_operator_emit_the_voice(emu, use_conn, dagbag, dag_id, task_id, job_key) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    seeded = emu.control.seed_job(state="SUCCEED", asset_id="voice-asset-1", voice_name="sensed")
    result = run_dag(dagbag, dag_id, {"job_id": seeded["job_id"]})
    assert result.tasks == {task_id: "success"}
    assert result.asset_events() == [_expected(result.xcom(task_id, job_key), task_id)]


@pytest.mark.parametrize("dag_id", ["t_result_deferrable_report", "t_result_inline_report", "t_sensor_poke"])
def test_a_failed_job_emits_nothing(emu, use_conn, dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    failed = emu.control.seed_job(state="FAILED", voice_name="broken")
    result = run_dag(dagbag, dag_id, {"job_id": failed["job_id"]})
    assert result.tasks in ({"result": "success"}, {"wait": "failed"}), result.tasks
    assert result.asset_events() == []


def test_create_operator_emits_the_voice_it_trained(emu, use_conn, dagbag, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    package = make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01)
    result = run_dag(dagbag, "t_create_deferrable_leave", {"package": package, "voice_name": "trained"})
    assert result.tasks == {"create": "success"}
    job = result.xcom("create", "job")
    assert job["asset_id"] == result.xcom("create")
    assert result.asset_events() == [_expected(job, "create")]
    # without waiting there is no voice yet: no event
    nowait = run_dag(dagbag, "t_create_nowait", {"package": package})
    assert nowait.tasks == {"create": "success"} and nowait.asset_events() == []


def test_the_alias_is_an_outlet_unless_switched_off() -> None:
    from airflow.sdk import Asset, AssetAlias

    from airflow_provider_voicetraining.operators.voice_training import VoiceTrainingJobResultOperator
    from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

    sensor = VoiceTrainingJobSensor(task_id="s", job_id="j", outlets=[Asset("report")])
    assert sensor.outlets == [Asset("report"), AssetAlias(VOICE_ALIAS)]
    custom = VoiceTrainingJobResultOperator(task_id="r", job_id="j", asset_alias="tenant_voices")
    assert custom.outlets == [AssetAlias("tenant_voices")]
    assert VoiceTrainingJobResultOperator(task_id="n", job_id="j", asset_alias=None).outlets == []
