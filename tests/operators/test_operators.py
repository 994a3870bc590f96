"""Result and create operators, run for real with dag.test() against the emulator: XCom contents
on success and failure (both fail_on_job_failure settings), create + upload + commit, cleanup."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator
from airflow_provider_voicetraining.packages import make_synthetic_package
from tests.airflow_helpers import run_dag

STYLES = ["deferrable", "inline"]


@pytest.fixture
def package(tmp_path: Path) -> str:
    return make_synthetic_package(tmp_path / "basic.zip", "basic", seconds=0.01)


# ------------------------------------------------------------------------------- result operator
@pytest.mark.parametrize("style", STYLES)
def test_result_success_pushes_asset_id_and_job(emu, use_conn, dagbag, style: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="SUCCEED", voice_name="result-voice", asset_id="asset-result")[
        "job_id"
    ]
    result = run_dag(dagbag, f"t_result_{style}_fail", {"job_id": job_id})
    assert result.tasks == {"result": "success"}
    assert result.xcom("result") == "asset-result"
    job = result.xcom("result", "job")
    assert job["job_id"] == job_id and job["voice_name"] == "result-voice" and job["state"] == "SUCCEED"
    assert "failure_details" not in result.xcom_keys("result")
    assert result.xcom("result", "console_url").endswith(job_id)


@pytest.mark.parametrize("style", STYLES)
def test_result_waits_for_a_running_job(emu, use_conn, dagbag, package, style: str) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name=f"wait-{style}")
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    hook.commit_job(created.job_id)
    result = run_dag(dagbag, f"t_result_{style}_fail", {"job_id": created.job_id})
    assert result.tasks == {"result": "success"}
    assert result.xcom("result") == hook.get_job(created.job_id).asset_id


@pytest.mark.parametrize("style", STYLES)
def test_result_failure_fails_the_task_with_details(emu, use_conn, dagbag, style: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(
        state="FAILED", job_failed_code="MSS.20001001", job_failed_reason="too quiet"
    )["job_id"]
    result = run_dag(dagbag, f"t_result_{style}_fail", {"job_id": job_id})
    assert result.tasks == {"result": "failed"}
    details = result.xcom("result", "failure_details")
    assert details == {
        "job_id": job_id,
        "state": "FAILED",
        "state_class": "failure",
        "job_failed_code": "MSS.20001001",
        "job_failed_reason": "too quiet",
        "audit_errors": [],
        "admin_audit_message": None,
        "console_url": details["console_url"],
    }
    assert result.xcom("result") is None


@pytest.mark.parametrize("style", STYLES)
def test_result_failure_reported_when_not_failing(emu, use_conn, dagbag, package, style: str) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="auditfail-report")
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    hook.commit_job(created.job_id)
    result = run_dag(dagbag, f"t_result_{style}_report", {"job_id": created.job_id})
    assert result.tasks == {"result": "success"}
    details = result.xcom("result", "failure_details")
    assert details["state"] == "AUDIT_FAILED" and details["state_class"] == "needs_action"
    assert details["audit_errors"] and details["audit_errors"][0]["error_code"]
    assert result.xcom("result") == details  # returned for a downstream branch


@pytest.mark.parametrize("style", STYLES)
def test_result_wait_timeout_fails_the_task(emu, use_conn, dagbag, style: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    result = run_dag(dagbag, f"t_result_{style}_timeout", {"job_id": job_id})
    assert result.tasks == {"result": "failed"}
    assert emu.control.job(job_id)["state"] == "PROCESSING"  # the result operator never deletes


def test_result_without_waiting_fails_on_a_running_job(emu, use_conn, dagbag) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    assert run_dag(dagbag, "t_result_nowait", {"job_id": job_id}).tasks == {"result": "failed"}
    done = emu.control.seed_job(state="SUCCEED", asset_id="already")["job_id"]
    result = run_dag(dagbag, "t_result_nowait", {"job_id": done})
    assert result.tasks == {"result": "success"} and result.xcom("result") == "already"


# ------------------------------------------------------------------------------- create operator
@pytest.mark.parametrize("style", STYLES)
def test_create_uploads_commits_and_waits(emu, use_conn, dagbag, package, style: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, f"t_create_{style}_leave", {"package": package, "voice_name": f"made-{style}"})
    assert result.tasks == {"create": "success"}
    job_id = result.xcom("create", "job_id")
    asset_id = result.xcom("create")
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    job = VoiceTrainingHook().get_job(job_id)
    assert asset_id and job.asset_id == asset_id and job.voice_name == f"made-{style}"
    routes = [r["route"] for r in emu.control.requests() if r["route"] != "show_job"]
    # quota first (before anything is created), then create, upload, commit
    assert routes[:4] == ["show_quotas", "create_basic_job", "obs_upload", "commit_job"]
    assert result.xcom("create", "job")["asset_id"] == asset_id


def test_create_without_waiting_returns_the_job_id(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_create_nowait", {"package": package})
    assert result.tasks == {"create": "success"}
    job_id = result.xcom("create")
    assert job_id == result.xcom("create", "job_id")
    assert emu.control.job(job_id)["app_user_id"] == "tenant-9"  # the internal record
    assert "show_job" not in {r["route"] for r in emu.control.requests()}


@pytest.mark.parametrize(
    "breakage",
    ["missing", "not_zip", "missing_sentence", "empty_wav", "wrong_edition"],
)
def test_bad_package_fails_before_any_request(emu, use_conn, dagbag, tmp_path, breakage: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    path = tmp_path / "package.zip"
    conf = {"package": str(path)}
    if breakage == "not_zip":
        path.write_text("not a zip")
    elif breakage == "missing_sentence":
        with zipfile.ZipFile(path, "w") as archive:
            for i in range(19):
                archive.writestr(f"{i}.wav", b"RIFF")
                archive.writestr(f"{i}.txt", "text")
    elif breakage == "empty_wav":
        with zipfile.ZipFile(path, "w") as archive:
            for i in range(20):
                archive.writestr(f"{i}.wav", b"" if i == 3 else b"RIFF")
                archive.writestr(f"{i}.txt", "text")
    elif breakage == "wrong_edition":
        make_synthetic_package(path, "basic", seconds=0.01)
        conf["edition"] = "middle"  # 100 sentences needed
    result = run_dag(dagbag, "t_create_nowait", conf)
    assert result.tasks == {"create": "failed"}
    assert emu.control.requests() == []
    assert result.xcom("create", "job_id") is None


def test_failed_upload_deletes_the_new_job(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=1)
    emu.control.set_faults([{"route": "obs_upload", "kind": "status", "status": 500}])
    result = run_dag(dagbag, "t_create_nowait", {"package": package})
    assert result.tasks == {"create": "failed"}
    job_id = result.xcom("create", "job_id")
    assert job_id  # pushed before the upload
    assert [r["status"] for r in emu.control.requests(route="delete_job")] == [200]
    assert not any(j["job_id"] == job_id for j in emu.control.requests(route="commit_job"))


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("on_abort", ["leave", "delete"])
def test_wait_timeout_leaves_or_deletes_the_job(
    emu, use_conn, dagbag, package, style: str, on_abort: str
) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    # USER_RESULT_REVIEW is not a failure state in the delete variants: the wait times out
    conf = {"package": package, "voice_name": "review-forever"}
    if on_abort == "leave":
        # the leave variant has a 30 s timeout: make the job unfinishable instead
        conf["voice_name"] = "review-left"
    result = run_dag(dagbag, f"t_create_{style}_{on_abort}", conf)
    job_id = result.xcom("create", "job_id")
    deletes = emu.control.requests(route="delete_job")
    if on_abort == "delete":
        assert result.tasks == {"create": "failed"}
        assert [r["status"] for r in deletes] == [200]
    else:
        # the default failure_states include USER_RESULT_REVIEW: the job fails, it is not deleted
        assert result.tasks == {"create": "failed"}
        assert deletes == [] and emu.control.job(job_id)["state"] == "USER_RESULT_REVIEW"


def test_on_kill_deletes_only_with_on_abort_delete(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    for on_abort, expected in (("leave", []), ("delete", [200])):
        emu.control.clear_requests()
        job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
        operator = CreateVoiceTrainingJobOperator(
            task_id=f"kill_{on_abort}",
            edition="basic",
            voice_name="v",
            training_package="p.zip",
            on_abort=on_abort,
        )
        operator._remote_job_id = job_id  # what execute() records right after creating the job
        operator.on_kill()
        assert [r["status"] for r in emu.control.requests(route="delete_job")] == expected


def test_operator_arguments_are_validated_at_construction() -> None:
    from airflow_provider_voicetraining.errors import VoiceTrainingValidationError

    with pytest.raises(VoiceTrainingValidationError, match="edition"):
        CreateVoiceTrainingJobOperator(task_id="a", edition="gold", voice_name="v", training_package="p")
    with pytest.raises(VoiceTrainingValidationError, match="on_abort"):
        CreateVoiceTrainingJobOperator(
            task_id="b", edition="basic", voice_name="v", training_package="p", on_abort="x"
        )
    templated = CreateVoiceTrainingJobOperator(
        task_id="c", edition="{{ params.edition }}", voice_name="v", training_package="p"
    )
    assert templated.edition == "{{ params.edition }}"
