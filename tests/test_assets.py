"""A trained voice is an Airflow asset: the first task that sees a voice succeed emits an event for
``metastudio://<region>/<project_id>/voices/<asset_id>`` through the ``metastudio_voices`` alias,
with the job's ids in the extra, the asset named after the voice; a later look at the same voice
emits nothing (one event per voice); failures emit nothing. Real runs (``dag.test()``) against
the emulator, events read back from Airflow's database (shared by the tests of a worker: every
test trains voices of its own)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_voicetraining.assets import VOICE_ALIAS, voice_uri
from airflow_provider_voicetraining.version_compat import AIRFLOW_V_3_3_PLUS
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
    seeded = emu.control.seed_job(state="SUCCEED", asset_id=str(uuid.uuid4()), voice_name="sensed")
    result = run_dag(dagbag, dag_id, {"job_id": seeded["job_id"]})
    assert result.tasks == {task_id: "success"}
    assert result.asset_events() == [_expected(result.xcom(task_id, job_key), task_id)]


def _assets_with_uri(uri: str) -> list[tuple[str, str, dict[str, Any]]]:
    from airflow.models.asset import AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [(a.name, a.group, dict(a.extra or {})) for a in session.query(AssetModel).filter_by(uri=uri)]


def test_a_second_collection_of_a_voice_emits_no_second_event(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    """One event per voice: the second look (another run, another task class) finds Airflow's
    event and adds none, so nothing scheduled on the alias starts again for the same voice."""
    use_conn(emu)
    asset_id = str(uuid.uuid4())
    seeded = emu.control.seed_job(state="SUCCEED", asset_id=asset_id, voice_name="shop-narrator")
    first = run_dag(dagbag, "t_result_inline_fail", {"job_id": seeded["job_id"]})
    job = first.xcom("result", "job")
    assert first.asset_events() == [_expected(job, "result")]
    for dag_id in ("t_result_inline_fail", "t_sensor_poke"):
        again = run_dag(dagbag, dag_id, {"job_id": seeded["job_id"]})
        assert set(again.tasks.values()) == {"success"}, again.tasks
        assert again.asset_events() == [], dag_id
    # another voice still gets its event
    other_asset = str(uuid.uuid4())
    other = emu.control.seed_job(state="SUCCEED", asset_id=other_asset, voice_name="shop-narrator")
    third = run_dag(dagbag, "t_sensor_poke", {"job_id": other["job_id"]})
    assert [e["extra"]["asset_id"] for e in third.asset_events()] == [other_asset]


def test_the_voice_asset_is_named_after_the_voice(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    """The Assets page searches names: the voice's name finds its asset (the URI stays the key)."""
    use_conn(emu)
    asset_id = str(uuid.uuid4())
    seeded = emu.control.seed_job(state="SUCCEED", asset_id=asset_id, voice_name="shop-narrator")
    result = run_dag(dagbag, "t_sensor_poke", {"job_id": seeded["job_id"]})
    uri = voice_uri("cn-north-4", PROJECT, asset_id)
    assert result.asset_events()[0]["uri"] == uri
    [(name, _group, extra)] = _assets_with_uri(uri)
    assert name == f"shop-narrator ({asset_id})"
    expected = {"asset_id": asset_id, "job_id": seeded["job_id"], "voice_name": "shop-narrator"}
    expected["app_user_id"] = None
    # the asset's own extra: 3.3 stores it for an asset created through an alias; 3.0 leaves it empty
    assert extra == expected if AIRFLOW_V_3_3_PLUS else extra in ({}, expected)


def test_voice_asset_names() -> None:
    from airflow_provider_voicetraining.assets import voice_asset_name

    assert voice_asset_name("shop-narrator", "a-1", "metastudio://r/p/voices/a-1") == "shop-narrator (a-1)"
    assert voice_asset_name("  ", "a-1", "metastudio://r/p/voices/a-1") == "metastudio://r/p/voices/a-1"
    assert voice_asset_name(None, "a-1", "metastudio://r/p/voices/a-1") == "metastudio://r/p/voices/a-1"


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
