"""Hook calls added for fan-out: every commit body field (the body's ``app_user_id`` apart from the
``X-App-UserId`` header), quotas, and the recording check's short jobs."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from airflow_provider_voicetraining._wire.vocabulary import COMMIT_FIELDS, QUOTA_KEYS
from airflow_provider_voicetraining.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.packages import make_synthetic_package

EVERY_COMMIT_FIELD = {
    "tag": "STORYTELLING",
    "description": "a bedtime voice",
    "sex": "MALE",
    "voice_name": "renamed",
    "language": "EN",
    "phone": "+86 10 1234 5678",
    "app_user_id": "carol",
    "output_language": "EN",
    "custom_text": "Once upon a time",
}


@pytest.fixture
def package(tmp_path: Path) -> str:
    return make_synthetic_package(tmp_path / "basic.zip", "basic", seconds=0.01)


def test_every_commit_field_and_the_body_app_user_id(emu, use_conn, package: str) -> None:  # type: ignore[no-untyped-def]
    assert set(EVERY_COMMIT_FIELD) == set(COMMIT_FIELDS)
    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="before", app_user_id="alice")
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    hook.commit_job(created.job_id, EVERY_COMMIT_FIELD, app_user_id="alice")
    record = emu.control.job(created.job_id)
    assert record["app_user_id"] == "carol"  # the body field files the job under another user
    assert {k: record["meta"][k] for k in EVERY_COMMIT_FIELD if k != "app_user_id"} == {
        k: v for k, v in EVERY_COMMIT_FIELD.items() if k != "app_user_id"
    }
    (commit,) = emu.control.requests(route="commit_job")
    assert commit["app_user_id"] == "alice"  # ... while the header stayed the creator's
    assert hook.get_job(created.job_id, app_user_id="carol").voice_name == "renamed"


def test_overrides_and_keywords_combine_but_never_clash(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    with pytest.raises(VoiceTrainingValidationError, match="both in overrides and as keywords"):
        hook.commit_job("job-1", {"tag": "LIVE"}, tag="NEWS")
    with pytest.raises(VoiceTrainingValidationError, match="commit overrides"):
        hook.commit_job("job-1", {"asset_id": "x"})
    with pytest.raises(VoiceTrainingValidationError, match="app_user_id"):
        hook.commit_job("job-1", {"app_user_id": "bad\nid"})
    assert emu.control.requests() == []


def test_quotas(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.set_quotas(advance=2)
    quotas = VoiceTrainingHook().get_quotas()
    assert set(quotas.available) == set(QUOTA_KEYS) and quotas.available["advance"] == 2
    assert quotas.count == len(QUOTA_KEYS) and quotas.resources


def test_short_job_round_trip(emu, use_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_short_job(language="EN", app_user_id="alice")
    assert "data_uploading_url" not in repr(created) and created.upload_urls.training_data_uploading_url
    path = tmp_path / "rec.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("quiet.wav", b"RIFF" + b"\0" * 40)
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, path)
    hook.commit_short_job(created.job_id, app_user_id="alice")
    deadline = time.monotonic() + 10
    while (job := hook.get_short_job(created.job_id, app_user_id="alice")).state != "SUCCEED":
        assert time.monotonic() < deadline, job.state
        time.sleep(0.02)
    assert job.job_type == "VOICE_ASSESS" and job.asset_id is None
    assert job.assess_result and job.assess_result["sound"]["status"] == 1
    with pytest.raises(VoiceTrainingValidationError, match="language"):
        hook.create_short_job(language="FR")
