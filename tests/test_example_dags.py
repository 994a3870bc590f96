"""The example DAGs load without import errors and run end to end with dag.test()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.airflow_helpers import run_dag

EXAMPLES = [
    "example_voice_training_pipeline",
    "example_voice_training_existing_job",
    "example_voice_training_platform",
]


def test_example_dags_import_cleanly(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    for dag_id in EXAMPLES:
        dag = dagbag.get_dag(dag_id)
        assert dag is not None and dag.tags and "example" in dag.tags


def test_pipeline_trains_and_uses_the_voice(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "example_voice_training_pipeline", {"voice_name": "example-voice"})
    assert result.state == "success"
    assert set(result.tasks.values()) == {"success"}
    assert result.tasks["remove_generated_package"] == "success"
    # the generated package's temporary folder is gone with the run
    assert not os.path.exists(os.path.dirname(result.xcom("prepare_training_package")))
    job_id = result.xcom("create_voice_job")
    asset_id = result.xcom("use_voice")
    assert asset_id == result.xcom("wait_for_voice")["asset_id"]
    assert result.xcom("wait_for_voice")["job_id"] == job_id
    # the asset library's ShowAsset, read through the hook's signed requests session
    assert result.xcom("describe_voice_asset") == {
        "asset_id": asset_id,
        "asset_name": "example-voice",
        "asset_type": "VOICE_MODEL",
        "asset_state": "ACTIVED",
    }
    assert [(e["status"], e["auth"]) for e in emu.control.requests("show_asset")] == [(200, "aksk")]


def test_pipeline_failure_stops_before_using_the_voice(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "example_voice_training_pipeline", {"voice_name": "fail-example"})
    assert result.state == "failed"
    assert result.tasks["wait_for_voice"] == "failed"
    assert result.tasks["use_voice"] == "upstream_failed"
    assert result.tasks["describe_voice_asset"] == "upstream_failed"
    assert result.xcom("wait_for_voice", "failure_details")["state"] == "FAILED"
    assert not os.path.exists(os.path.dirname(result.xcom("prepare_training_package")))


def test_pipeline_never_removes_a_package_it_was_given(emu, use_conn, dagbag, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    given = make_synthetic_package(tmp_path / "voice-package-mine" / "shop.zip", "basic", seconds=0.01)
    result = run_dag(
        dagbag, "example_voice_training_pipeline", {"voice_name": "given-package", "training_package": given}
    )
    assert result.state == "success" and result.tasks["remove_generated_package"] == "success"
    assert os.path.exists(given)


@pytest.mark.parametrize(
    ("seed", "route_to"),
    [
        ({"state": "SUCCEED", "asset_id": "existing-asset"}, "use_voice"),
        (
            {"state": "FAILED", "job_failed_code": "MSS.20001001", "job_failed_reason": "background noise"},
            "report_failure",
        ),
    ],
)
def test_existing_job_routes_success_and_failure(emu, use_conn, dagbag, seed, route_to: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(**seed)["job_id"]
    result = run_dag(dagbag, "example_voice_training_existing_job", {"job_id": job_id})
    assert result.state == "success"
    assert result.xcom("find_job") == job_id
    other = {"use_voice", "report_failure"} - {route_to}
    assert result.tasks[route_to] == "success" and result.tasks[other.pop()] == "skipped"
    if route_to == "use_voice":
        assert result.xcom("use_voice") == "existing-asset"
    else:
        report = result.xcom("report_failure")
        assert report["state"] == "FAILED" and "background noise" in report["report"]
        assert "MSS.20001001" in report["report"]


def test_platform_trains_one_voice_per_user_who_passed_the_check(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "example_voice_training_platform")
    assert result.state == "success", result.instances
    assert result.mapped("check_recordings") == {0: "success", 1: "success", 2: "success"}
    assert result.mapped("train_voice") == {0: "success", 1: "success"}  # user-3's recordings are noisy
    report = result.xcom("publish")
    voice_jobs = {j["app_user_id"]: j for j in emu.control.jobs() if j["kind"] == "voice"}
    assert set(voice_jobs) == {"user-1", "user-2"}  # one job per trained user, under their app user
    for user in ("user-1", "user-2"):
        assert report[user] == {"asset_id": voice_jobs[user]["view"]["asset_id"]}
    assert report["user-3"]["rejected"] == ["snr"] and "quiet room" in report["user-3"]["advice"]
    shorts = [j for j in emu.control.jobs() if j["kind"] == "short"]
    assert sorted(j["app_user_id"] for j in shorts) == ["user-1", "user-2", "user-3"]


def test_existing_job_without_a_job_id_collects_the_newest_job(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.seed_job(state="FAILED", voice_name="older-voice")
    newest = emu.control.seed_job(state="SUCCEED", asset_id="newest-asset", voice_name="newest-voice")
    result = run_dag(dagbag, "example_voice_training_existing_job")
    assert result.state == "success", result.tasks
    assert result.xcom("find_job") == newest["job_id"]
    assert result.tasks["use_voice"] == "success" and result.xcom("use_voice") == "newest-asset"


def test_pipeline_defaults_pass_the_trigger_forms_validation(dagbag) -> None:  # type: ignore[no-untyped-def]
    """The UI disables Trigger while a param fails its schema; a "string" param holding "" counts
    as missing there. Every param of the examples must validate with its default as it stands."""
    import jsonschema

    for dag_id in EXAMPLES:
        dag = dagbag.get_dag(dag_id)
        for name in dag.params:
            param = dag.params.get_param(name)
            jsonschema.validate(param.value, param.schema)
            if param.value is None or param.value == "":
                assert "null" in param.schema.get("type", []), f"{dag_id}.{name}: make it nullable"
