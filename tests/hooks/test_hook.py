"""VoiceTrainingHook against the running emulator over real HTTP: every method, every auth mode."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_voicetraining.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingNotFoundError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.models import VoiceTrainingJob
from airflow_provider_voicetraining.packages import make_synthetic_package
from airflow_provider_voicetraining.states import KNOWN_STATES, StateClass
from tests.helpers import wait_for_state

AUTH_MODES = ["aksk", "aksk_temporary", "password", "token"]


@pytest.fixture
def package(tmp_path: Path) -> str:
    return make_synthetic_package(tmp_path / "basic.zip", "basic", seconds=0.01)


def _train(hook: VoiceTrainingHook, package: str, voice_name: str = "hook-voice", **kwargs: Any) -> str:
    created = hook.create_job("basic", voice_name=voice_name, **kwargs)
    assert created.upload_urls.training_data_uploading_url
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)
    hook.commit_job(created.job_id, app_user_id=kwargs.get("app_user_id"))
    return created.job_id


@pytest.mark.parametrize("auth_type", AUTH_MODES)
def test_full_lifecycle_in_every_auth_mode(emu, use_conn, package: str, auth_type: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, auth_type)
    with VoiceTrainingHook() as hook:
        job_id = _train(hook, package)
        job = wait_for_state(hook, job_id, {"SUCCEED"})
    assert isinstance(job, VoiceTrainingJob)
    assert job.asset_id and job.state_class is StateClass.SUCCESS
    assert job.voice_name == "hook-voice"
    assert isinstance(job.create_time, pendulum.DateTime)
    assert isinstance(job.lastupdate_time, pendulum.DateTime)
    assert job.lastupdate_time >= job.create_time
    data = job.to_dict()
    json.dumps(data)  # JSON-safe for XCom
    assert data["asset_id"] == job.asset_id and data["state_class"] == "success"
    assert VoiceTrainingJob.from_dict(data) == job


def test_get_job_keeps_unknown_fields_and_states(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    seeded = emu.control.seed_job(state="QUANTUM_TUNING", voice_name="future", brand_new_field={"x": 1})
    job = VoiceTrainingHook().get_job(seeded["job_id"])
    assert job.state == "QUANTUM_TUNING" and job.state not in KNOWN_STATES
    assert job.state_class is StateClass.IN_PROGRESS
    assert job.extra["brand_new_field"] == {"x": 1}


def test_list_jobs_paginates_and_filters(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    for i in range(5):
        emu.control.seed_job(state="FAILED", voice_name=f"failed-{i}")
    for i in range(3):
        emu.control.seed_job(state="WAITING", voice_name=f"waiting-{i}")
    hook = VoiceTrainingHook()
    emu.control.clear_requests()
    failed = list(hook.list_jobs(state="FAILED", page_size=2))
    assert sorted(j.voice_name for j in failed) == [f"failed-{i}" for i in range(5)]
    assert len(emu.control.requests(route="list_jobs")) == 3  # pages of 2, 2, 1
    both = list(hook.list_jobs(state=["FAILED", "WAITING"], page_size=100))
    assert len(both) == 8
    assert len(list(hook.list_jobs(max_items=3, page_size=2))) == 3
    assert [j.voice_name for j in hook.list_jobs(voice_name="waiting-1")] == ["waiting-1"]


@pytest.mark.parametrize("edition", ["basic", "middle", "advance", "third_party"])
def test_create_each_edition(emu, use_conn, tmp_path: Path, edition: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job(edition, voice_name=f"{edition}-voice", sex="MALE", language="EN", tag="NEWS")
    job = hook.get_job(created.job_id)
    assert job.state == "CREATING"
    assert (
        job.job_type
        == {"basic": "BASIC", "middle": "MIDDLE", "advance": "ADVANCE", "third_party": "THIRD_PARTY"}[edition]
    )
    assert (job.sex, job.language, job.tag) == ("MALE", "EN", "NEWS")
    assert "Signature" not in repr(created) and "?" not in repr(created)


def test_commit_before_upload_is_rejected_with_a_typed_error(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="no-upload")
    with pytest.raises(VoiceTrainingAPIError) as info:
        hook.commit_job(created.job_id)
    err = info.value
    assert err.status_code == 400 and err.error_code == "MSS.00000003"
    assert err.request_id and len(err.request_id) == 32
    assert "commit_job" in str(err) and err.request_id in str(err)
    assert len(emu.control.requests(route="commit_job")) == 1  # 4xx: never retried


def test_commit_overrides_reach_the_service(emu, use_conn, package: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="before")
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    hook.commit_job(created.job_id, voice_name="after", tag="LIVE")
    job = hook.get_job(created.job_id)
    assert (job.voice_name, job.tag) == ("after", "LIVE")


def test_delete_and_missing_ok(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    job_id = hook.create_job("basic", voice_name="doomed").job_id
    hook.delete_job(job_id)
    with pytest.raises(VoiceTrainingNotFoundError) as info:
        hook.get_job(job_id)
    assert info.value.status_code == 404
    with pytest.raises(VoiceTrainingNotFoundError):
        hook.delete_job(job_id)
    hook.delete_job(job_id, missing_ok=True)


def test_audit_result_and_failure_details(emu, use_conn, package: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    job_id = _train(hook, package, voice_name="auditfail-voice")
    job = wait_for_state(hook, job_id, {"AUDIT_FAILED"})
    audit = hook.get_audit_result(job_id)
    assert audit.errors and audit.errors[0].error_code
    details = hook.get_failure_details(job)
    data = details.to_dict()
    assert data["state"] == "AUDIT_FAILED" and data["state_class"] == "needs_action"
    assert data["audit_errors"] and data["console_url"].endswith(job_id)
    json.dumps(data)


def test_failed_job_details(emu, use_conn, package: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    job_id = _train(hook, package, voice_name="fail-voice")
    job = wait_for_state(hook, job_id, {"FAILED"})
    details = hook.get_failure_details(job)
    assert details.job_failed_code and details.job_failed_reason
    assert details.job_failed_code in details.summary()


def test_reupload_after_audit_failure(emu, use_conn, package: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    job_id = _train(hook, package, voice_name="auditfail-then-fixed")
    wait_for_state(hook, job_id, {"AUDIT_FAILED"})
    urls = hook.get_upload_urls(job_id)
    assert urls.training_data_uploading_url and "Signature" not in repr(urls)
    hook.upload_training_data(urls.training_data_uploading_url, package)
    hook.commit_job(job_id)
    assert wait_for_state(hook, job_id, {"SUCCEED"}).asset_id


def test_app_user_id_scopes_jobs(emu, use_conn, package: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    job_id = _train(hook, package, voice_name="for-user", app_user_id="tenant-user-7")
    seen = emu.control.requests(route="show_job")
    assert all(r.get("app_user_id") in (None, "tenant-user-7") for r in seen)
    assert hook.get_job(job_id, app_user_id="tenant-user-7").app_user_id == "tenant-user-7"
    with pytest.raises(VoiceTrainingNotFoundError):
        hook.get_job(job_id, app_user_id="someone-else")
    # a hook-level default applies to every call
    assert VoiceTrainingHook(app_user_id="tenant-user-7").get_job(job_id).job_id == job_id


def test_test_connection(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    ok, message = VoiceTrainingHook().test_connection()
    assert ok and "project" in message
    use_conn(emu, password="wrong-secret-key-value-0000000000")
    ok, message = VoiceTrainingHook().test_connection()
    assert not ok and "401" in message and "APIG.0301" in message


def test_test_connection_messages_do_not_name_the_temporary_connection_id(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """The api-server tests a copy of the connection under a random id ('j0QGUOcX'): messages
    say "the connection" instead; other calls keep naming the id."""
    use_conn(emu, conn_id="j0QGUOcX", password="wrong-secret-key-value-0000000000")
    ok, message = VoiceTrainingHook("j0QGUOcX").test_connection()
    assert not ok and "401" in message and "j0QGUOcX" not in message
    assert "SK (password) of the connection" in message
    with pytest.raises(VoiceTrainingAuthError, match="connection 'j0QGUOcX'"):
        VoiceTrainingHook("j0QGUOcX").get_job("26f06524-4f75-4b3a-a853-b649a21aaf66")
    use_conn(emu, conn_id="j0QGUOcX", extra_overrides={"timeout": "soon"})
    ok, message = VoiceTrainingHook("j0QGUOcX").test_connection()
    assert not ok and message.startswith("Invalid connection field timeout") and "j0QGUOcX" not in message


def test_wrong_sk_is_an_auth_error_with_a_hint(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, password="wrong-secret-key-value-0000000000")
    with pytest.raises(VoiceTrainingAuthError) as info:
        VoiceTrainingHook().get_job("26f06524-4f75-4b3a-a853-b649a21aaf66")
    assert "AK (login) and SK (password)" in str(info.value)
    assert emu.config.access_key not in str(info.value)


def test_password_tokens_are_minted_once_and_shared(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "password")
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    hooks = [VoiceTrainingHook() for _ in range(5)]
    for hook in hooks:
        assert hook.get_job(job_id).state == "WAITING"
    assert emu.control.stats()["tokens_issued"] == 1
    assert len(emu.control.requests(route="iam_tokens")) == 1


def test_expired_token_is_refreshed_once(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "password")
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    hook = VoiceTrainingHook()
    hook.get_job(job_id)
    emu.control.expire_tokens()
    emu.control.clear_requests()
    assert hook.get_job(job_id).state == "WAITING"
    statuses = [r["status"] for r in emu.control.requests(route="show_job")]
    assert statuses == [401, 200]
    assert len(emu.control.requests(route="iam_tokens")) == 1
    assert emu.control.stats()["tokens_issued"] == 2


def test_ready_token_that_expired_is_not_refreshable(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "token")
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    emu.control.expire_tokens()
    with pytest.raises(VoiceTrainingAuthError, match="tokens last 24 h"):
        VoiceTrainingHook().get_job(job_id)


def test_tls_with_ca_bundle(tls_emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(tls_emu)
    assert tls_emu.url.startswith("https://")
    job_id = tls_emu.control.seed_job(state="SUCCEED", asset_id="asset-over-tls")["job_id"]
    assert VoiceTrainingHook().get_job(job_id).asset_id == "asset-over-tls"


def test_tls_without_the_ca_fails_clearly(tls_emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(tls_emu, verify=True, max_retries=0)
    from airflow_provider_voicetraining.errors import VoiceTrainingTransportError

    with pytest.raises(VoiceTrainingTransportError, match="tls"):
        VoiceTrainingHook().get_job("26f06524-4f75-4b3a-a853-b649a21aaf66")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda h: h.get_job("../../etc/passwd"), "job_id"),
        (lambda h: h.get_job("a/b"), "job_id"),
        (lambda h: h.get_job(""), "job_id"),
        (lambda h: h.get_job("x" * 129), "job_id"),
        (lambda h: h.get_job(["list"]), "job_id"),
        (lambda h: h.get_job("ok-id", app_user_id="a\r\nb"), "app_user_id"),
        (lambda h: h.get_job("ok-id", app_user_id="ünïcode"), "app_user_id"),
        (lambda h: h.delete_job("x?y=1"), "job_id"),
        (lambda h: h.create_job("gold", voice_name="v"), "edition"),
        (lambda h: h.create_job("basic", voice_name=""), "voice_name"),
        (lambda h: h.create_job("basic", voice_name="v", sex="OTHER"), "sex"),
        (lambda h: h.create_job("basic", voice_name="v", language="FR"), "language"),
        (lambda h: h.create_job("basic", voice_name="v", supported_service=["VR"]), "supported_service"),
        (lambda h: h.commit_job("ok-id", colour="blue"), "commit overrides"),
        (lambda h: list(h.list_jobs(page_size=500)), "page_size"),
        (lambda h: list(h.list_jobs(sort_key="name")), "sort_key"),
        (lambda h: h.list_jobs(state="FAILED;DROP"), "state"),
        (lambda h: h.upload_training_data("http://evil.example.com/up", __file__), "upload URL"),
    ],
)
def test_bad_input_fails_before_anything_is_sent(emu, use_conn, call, field: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    emu.control.clear_requests()
    with pytest.raises(VoiceTrainingValidationError) as info:
        call(hook)
    assert field in str(info.value) and "Fix:" in str(info.value)
    assert emu.control.requests() == []


def test_hook_reuses_one_session(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    hook = VoiceTrainingHook()
    before = emu.control.stats()["connections"]
    for _ in range(10):
        hook.get_job(job_id)
    assert emu.control.stats()["connections"] - before == 1
    assert len(emu.control.requests(route="show_job")) == 10


def test_default_conn_id_and_keyword(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, conn_id="other_metastudio")
    hook = VoiceTrainingHook(metastudio_conn_id="other_metastudio")
    assert hook.settings.conn_id == "other_metastudio"
    assert VoiceTrainingHook.default_conn_name == "metastudio_default"
    assert VoiceTrainingHook.conn_name_attr == "metastudio_conn_id"
    assert os.environ.get("AIRFLOW_CONN_OTHER_METASTUDIO")


@pytest.mark.parametrize(
    ("edition", "fields", "overrides", "field"),
    [
        ("basic", {"tag": "WEATHER"}, None, "tag"),
        ("premium", {}, None, "edition"),
        ("basic", {"voice_name": "x" * 257}, None, "voice_name"),
        ("basic", {"colour": "red"}, None, "create fields"),
        ("basic", {}, {"sex": "ROBOT"}, "sex"),
        ("basic", {}, {"create_type": "PACKAGE"}, "commit overrides"),
    ],
)
def test_check_create_refuses_what_create_or_commit_would_and_sends_nothing(  # type: ignore[no-untyped-def]
    emu, use_conn, edition: str, fields: dict[str, Any], overrides: dict[str, Any] | None, field: str
) -> None:
    use_conn(emu)
    hook = VoiceTrainingHook()
    good: dict[str, Any] = {"voice_name": "checked", "tag": "NEWS", "batch_name": "b-1"}
    hook.check_create("middle", **good, commit_overrides={"sex": "MALE"})  # nothing wrong: no error
    with pytest.raises(VoiceTrainingValidationError) as caught:
        hook.check_create(edition, **{**good, **fields}, commit_overrides=overrides)
    assert caught.value.field == field
    assert emu.control.requests() == []
