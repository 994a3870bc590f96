"""ShowAsset (``GET /v1/{project_id}/digital-assets/{asset_id}``) for the voices the emulator trained."""

from __future__ import annotations

import re
from urllib.parse import quote

from .helpers import OTHER_PROJECT, Api

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _asset_path(api: Api, asset_id: str, project_id: str | None = None) -> str:
    return f"/v1/{project_id or api.cfg.project_id}/digital-assets/{quote(asset_id, safe='')}"


def test_a_voice_becomes_an_asset_when_its_training_succeeds(api: Api) -> None:
    created = api.ready_job(
        voice_name="asset-voice", sex="MALE", language="CN", tag="NEWS", description="shop narrator"
    )
    job_id = created["job_id"]
    # held in PROCESSING (the control API pins it): trained, not yet an asset
    api.emu.control.set_outcome(job_id, "PROCESSING", asset_id="asset-of-the-voice")
    assert api.commit(job_id).status_code == 200
    api.wait_state(job_id, "PROCESSING")
    early = api.call("GET", _asset_path(api, "asset-of-the-voice"))
    assert early.status_code == 404 and early.json()["error_code"] == "MSS.00000001"

    api.emu.control.set_outcome(job_id, "SUCCEED", at_once=True)
    job = api.show(job_id)
    assert job["state"] == "SUCCEED"
    assert job["asset_id"] == "asset-of-the-voice"
    r = api.call("GET", _asset_path(api, "asset-of-the-voice"))
    assert r.status_code == 200, r.text
    asset = r.json()
    assert {k: asset[k] for k in ("project_id", "asset_id", "asset_name", "asset_type", "asset_state")} == {
        "project_id": api.cfg.project_id,
        "asset_id": "asset-of-the-voice",
        "asset_name": "asset-voice",
        "asset_type": "VOICE_MODEL",
        "asset_state": "ACTIVED",
    }
    assert asset["asset_description"] == "shop narrator" and asset["tags"] == ["NEWS"]
    assert asset["asset_extra_meta"] == {"voice_model_meta": {"sex": "MALE", "language": "CN"}}
    assert RFC3339.match(asset["create_time"]) and asset["update_time"] == asset["create_time"]
    assert "app_user_id" not in asset  # created without X-App-UserId
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-Id"])
    assert [e["route"] for e in api.emu.control.requests("show_asset")] == ["show_asset", "show_asset"]


def test_unknown_or_unfinished_assets_answer_the_documented_404(api: Api) -> None:
    failed = api.emu.control.seed_job(state="FAILED", asset_id="asset-of-a-failed-job")
    assert failed["view"]["state"] == "FAILED"
    for asset_id in ("26f06524-4f75-4b3a-a853-b649a21aaf66", "asset-of-a-failed-job"):
        r = api.call("GET", _asset_path(api, asset_id))
        assert r.status_code == 404
        assert r.json() == {
            "error_code": "MSS.00000001",
            "error_msg": f"The asset {asset_id} does not exist.",
        }


def test_assets_are_scoped_like_jobs_project_and_app_user(api: Api) -> None:
    api.emu.control.seed_job(state="SUCCEED", asset_id="user-asset", app_user_id="user-1")
    mine = api.call("GET", _asset_path(api, "user-asset"), headers={"X-App-UserId": "user-1"})
    assert mine.status_code == 200 and mine.json()["app_user_id"] == "user-1"
    owner = api.call("GET", _asset_path(api, "user-asset"))  # no X-App-UserId: the account's view
    assert owner.status_code == 200
    other_user = api.call("GET", _asset_path(api, "user-asset"), headers={"X-App-UserId": "user-2"})
    assert other_user.status_code == 404
    other_project = api.call(
        "GET", _asset_path(api, "user-asset", OTHER_PROJECT), headers={"X-Project-Id": OTHER_PROJECT}
    )
    assert other_project.status_code == 404


def test_show_asset_verifies_the_signature_like_every_route(api: Api) -> None:
    api.emu.control.seed_job(state="SUCCEED", asset_id="guarded-asset")
    wrong = api.call("GET", _asset_path(api, "guarded-asset"), sk="wrong-secret-key-00000000000000000")
    assert wrong.status_code == 401 and wrong.json()["error_code"] == "APIG.0301"
    unsigned = api.call("GET", _asset_path(api, "guarded-asset"), sign=False)
    assert unsigned.status_code == 401
    assert api.call("GET", _asset_path(api, "guarded-asset")).status_code == 200
    assert [e["auth_error"] is not None for e in api.emu.control.requests("show_asset")] == [
        True,
        True,
        False,
    ]


def test_an_asset_id_needing_quoting_round_trips(api: Api) -> None:
    asset_id = "voice asset:ü~(1)"
    api.emu.control.seed_job(state="SUCCEED", asset_id=asset_id)
    r = api.call("GET", _asset_path(api, asset_id))
    assert r.status_code == 200, r.text
    assert r.json()["asset_id"] == asset_id
