"""Wire compatibility: the official ``huaweicloudsdkmetastudio`` client against the emulator."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
import requests

from metastudio_emulator import EmulatorServer

pytestmark = pytest.mark.sdk


@pytest.fixture
def sdk(fresh_home: Any, emu: EmulatorServer) -> Any:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmetastudio.v1 import MetaStudioClient

    def client(sk: str | None = None, via_env: bool = False) -> Any:
        cfg = emu.config
        builder = MetaStudioClient.new_builder().with_credentials(
            BasicCredentials(cfg.access_key, sk or cfg.secret_key, cfg.project_id)
        )
        if via_env:
            from huaweicloudsdkmetastudio.v1.region.metastudio_region import MetaStudioRegion

            return builder.with_region(MetaStudioRegion.value_of("cn-north-4")).build()
        return builder.with_endpoints([emu.url]).build()

    return client


def _package() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(20):
            archive.writestr(f"{i}.wav", b"RIFF")
            archive.writestr(f"{i}.txt", f"sentence {i}")
    return buf.getvalue()


def test_official_client_creates_uploads_commits_shows_lists(sdk: Any, emu: EmulatorServer) -> None:
    from huaweicloudsdkmetastudio.v1 import model as m

    client = sdk()
    created = client.create_training_basic_job(
        m.CreateTrainingBasicJobRequest(
            body=m.CreateTrainingJobReq(voice_name="sdk-voice", sex="MALE", language="CN", tag="ECOMMERCE")
        )
    )
    assert created.job_id and len(created.segment_uploading_url.audio_uploading_url) == 20
    put = requests.put(
        created.training_data_uploading_url, data=_package(), headers={"Content-Type": "application/zip"}
    )
    assert put.status_code == 200
    committed = client.commit_voice_training_job(
        m.CommitVoiceTrainingJobRequest(job_id=created.job_id, body=m.CommitJobReq(tag="LIVE"))
    )
    assert committed.status_code == 200
    shown = client.show_voice_training_job(m.ShowVoiceTrainingJobRequest(job_id=created.job_id))
    assert shown.to_json_object()["state"] in ("SYSTEM_AUDITING", "AUDITING", "WAITING", "PROCESSING")
    assert shown.voice_name == "sdk-voice" and shown.tag == "LIVE" and shown.sex == "MALE"
    listed = client.list_voice_training_job(
        m.ListVoiceTrainingJobRequest(
            state="SYSTEM_AUDITING,AUDITING,WAITING,PROCESSING,UPLOADING,SUCCEED",
            voice_name="sdk-voice",
            limit=10,
            offset=0,
        )
    )
    assert listed.count == 1 and listed.jobs[0].job_id == created.job_id
    log = emu.control.requests()
    assert [e["route"] for e in log] == [
        "create_basic_job",
        "obs_upload",
        "commit_job",
        "show_job",
        "list_jobs",
    ]
    assert all(e["status"] == 200 for e in log)


def test_official_client_via_region_env_and_errors(sdk: Any, emu: EmulatorServer, monkeypatch: Any) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkmetastudio.v1 import model as m

    monkeypatch.setenv("HUAWEICLOUD_SDK_REGION_METASTUDIO_CN_NORTH_4", emu.url)
    client = sdk(via_env=True)
    assert client.list_voice_training_job(m.ListVoiceTrainingJobRequest()).count == 0
    with pytest.raises(ClientRequestException) as missing:
        client.show_voice_training_job(
            m.ShowVoiceTrainingJobRequest(job_id="26f06524-4f75-4b3a-a853-b649a21aaf66")
        )
    assert (missing.value.status_code, missing.value.error_code) == (404, "MSS.00000001")
    with pytest.raises(ClientRequestException) as bad:
        sdk(sk="wrong-secret").list_voice_training_job(m.ListVoiceTrainingJobRequest())
    err = bad.value
    assert (err.status_code, err.error_code) == (401, "APIG.0301")
    assert "verify aksk signature fail" in err.error_msg and len(err.request_id) == 32
    # Without a project id the SDK discovers it through IAM (GET /v3/projects?name=cn-north-4).
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmetastudio.v1 import MetaStudioClient
    from huaweicloudsdkmetastudio.v1.region.metastudio_region import MetaStudioRegion

    monkeypatch.setenv("HUAWEICLOUD_SDK_IAM_ENDPOINT", emu.url)
    discovering = (
        MetaStudioClient.new_builder()
        .with_credentials(BasicCredentials(emu.config.access_key, emu.config.secret_key))
        .with_region(MetaStudioRegion.value_of("cn-north-4"))
        .build()
    )
    assert discovering.list_voice_training_job(m.ListVoiceTrainingJobRequest()).count == 0
    assert emu.control.requests("iam_projects")[-1]["status"] == 200
    with pytest.raises(ClientRequestException) as invalid:
        client.create_training_basic_job(
            m.CreateTrainingBasicJobRequest(body=m.CreateTrainingJobReq(voice_name="v", language="FR"))
        )
    assert (invalid.value.status_code, invalid.value.error_code) == (400, "MSS.00000003")


def test_official_client_shows_a_trained_voice_asset(sdk: Any, emu: EmulatorServer) -> None:
    """The emulator's ShowAsset answer parses into the SDK's ``ShowAssetResponse`` model."""
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
    from huaweicloudsdkmetastudio.v1 import model as m

    emu.control.seed_job(state="SUCCEED", asset_id="sdk-asset", voice_name="sdk-voice", tag="LIVE")
    shown = sdk().show_asset(m.ShowAssetRequest(asset_id="sdk-asset"))
    assert (shown.asset_id, shown.asset_name, shown.asset_type, shown.asset_state) == (
        "sdk-asset",
        "sdk-voice",
        "VOICE_MODEL",
        "ACTIVED",
    )
    assert shown.tags == ["LIVE"] and shown.asset_extra_meta.voice_model_meta.sex == "FEMALE"
    with pytest.raises(ClientRequestException) as missing:
        sdk().show_asset(m.ShowAssetRequest(asset_id="no-such-asset"))
    assert (missing.value.status_code, missing.value.error_code) == (404, "MSS.00000001")
