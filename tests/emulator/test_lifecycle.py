"""Job lifecycle: every outcome, the upload/commit rules, audit results, op-logs, seeding."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from metastudio_emulator import EmulatorConfig, EmulatorControlError, EmulatorServer

from .helpers import EDITION_MEMBERS, Api, make_zip, pairs

BASIC_PATH = ["SYSTEM_AUDITING", "AUDITING", "WAITING", "PROCESSING", "UPLOADING", "SUCCEED"]
SPLIT = ["WAITING_SPLIT", "SPLITTING", "ANNOTATING"]
ADVANCE_PATH = ["SYSTEM_AUDITING", "AUDITING", *SPLIT, "WAITING", "PROCESSING", "UPLOADING", "SUCCEED"]


def passed_states(api: Api, job_id: str) -> list[str]:
    record = api.emu.control.job(job_id)
    return [p["state"] for p in record["commits"][-1]["passed"]]


def actions(api: Api, job_id: str) -> list[str]:
    r = api.call("GET", f"/user/jobs/{job_id}/op-logs", query={"limit": 100})
    assert r.status_code == 200
    assert r.json()["count"] == len(r.json()["operations"])
    return [op["action"] for op in r.json()["operations"]]


def test_basic_job_succeeds_through_every_state(api: Api) -> None:
    created = api.ready_job("basic", voice_name="happy")
    job_id = created["job_id"]
    before = api.show(job_id)
    assert before["state"] == "CREATING" and "asset_id" not in before
    assert before["create_time"] == before["lastupdate_time"] and before["create_time"] > 1.6e12  # epoch ms
    assert api.commit(job_id).status_code == 200
    job = api.wait_state(job_id, "SUCCEED")
    assert set(job["_seen"]) <= set(["CREATING", *BASIC_PATH])
    assert passed_states(api, job_id) == BASIC_PATH
    uuid.UUID(job["asset_id"])
    assert job["job_failed_code"] is None and job["reject_times"] == 0
    record = api.emu.control.job(job_id)
    commit = record["commits"][-1]
    elapsed_ms = job["lastupdate_time"] - commit["started_at"] * 1000
    assert 190 * 0.9 <= elapsed_ms <= 190 * 1.1  # 19 nominal seconds x time_scale 0.01
    assert actions(api, job_id) == [
        "CREATE_JOB",
        "COMMIT_JOB",
        "SYSTEM_AUDIT_PASS",
        "ADMIN_AUDIT_PASS",
        "TRAINING_FINISH",
        "UPLOADING_MODEL",
        "COMPLETE_JOB",
    ]
    audit = api.call("GET", f"/user/jobs/{job_id}/audit-result").json()
    assert audit["system_audit_result"]["errors"] == [] and audit["system_audit_result"]["audit_time"]
    assert audit["admin_audit_result"]["audit_time"] >= audit["system_audit_result"]["audit_time"]
    expected_keys = {
        "job_type",
        "job_id",
        "app_user_id",
        "voice_name",
        "sex",
        "language",
        "state",
        "reject_times",
        "asset_id",
        "job_failed_code",
        "job_failed_reason",
        "create_time",
        "lastupdate_time",
        "voice_authorization_url",
        "create_type",
        "tag",
        "phone",
        "training_input_source_url",
        "dhtms_job_id",
        "batch_name",
        "allocated_resource",
        "output_language",
        "is_remake",
        "assess_result",
        "is_ondemand_resource",
    }
    assert set(job) - {"_seen"} == expected_keys


@pytest.mark.parametrize(
    ("edition", "voice_name", "final", "path"),
    [
        ("advance", "Premium", "SUCCEED", ADVANCE_PATH),
        ("third-party", "dupdub", "SUCCEED", ADVANCE_PATH),
        ("middle", "FAIL-loud", "FAILED", ["SYSTEM_AUDITING", "AUDITING", "WAITING", "PROCESSING", "FAILED"]),
        ("basic", "auditfail-x", "AUDIT_FAILED", ["SYSTEM_AUDITING", "AUDIT_FAILED"]),
        ("basic", "splitfail-x", "SPLIT_FAILED", ["SYSTEM_AUDITING", "AUDITING", *SPLIT[:2], "SPLIT_FAILED"]),
        (
            "basic",
            "reject-x",
            "USER_REVIEW_REJECT",
            [
                "SYSTEM_AUDITING",
                "AUDITING",
                "WAITING",
                "PROCESSING",
                "RESULT_REVIEW",
                "USER_RESULT_REVIEW",
                "USER_REVIEW_REJECT",
            ],
        ),
    ],
)
def test_outcome_rule(api: Api, edition: str, voice_name: str, final: str, path: list[str]) -> None:
    job_id = api.ready_job(edition, voice_name=voice_name)["job_id"]
    assert api.commit(job_id).status_code == 200
    job = api.wait_state(job_id, final)
    assert passed_states(api, job_id) == path
    assert ("asset_id" in job) is (final == "SUCCEED")
    if final in ("FAILED", "SPLIT_FAILED"):
        assert job["job_failed_code"].startswith("MSS.") and job["job_failed_reason"]
    else:
        assert job["job_failed_code"] is None


def test_review_outcome_stays_in_user_result_review(api: Api) -> None:
    job_id = api.ready_job("basic", voice_name="review-me")["job_id"]
    api.commit(job_id)
    api.wait_state(job_id, "USER_RESULT_REVIEW")
    time.sleep(0.15)
    assert api.show(job_id)["state"] == "USER_RESULT_REVIEW"
    assert actions(api, job_id)[-1] == "TRAINING_FINISH"


def test_failed_job_reports_the_failure_in_op_logs(api: Api) -> None:
    job_id = api.ready_job("basic", voice_name="fail-me")["job_id"]
    api.commit(job_id)
    job = api.wait_state(job_id, "FAILED")
    assert job["job_failed_code"] == "MSS.20001001"
    ops = api.call("GET", f"/user/jobs/{job_id}/op-logs").json()["operations"]
    assert ops[-1]["action"] == "TRAINING_FINISH"
    assert ops[-1]["external_info"]["algorithm_failure_reason"] == job["job_failed_reason"]


def _bad(r: Any, fragment: str) -> None:
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "MSS.00000003"
    assert fragment in r.json()["error_msg"]


def test_commit_rules(api: Api) -> None:
    created = api.create("basic", voice_name="rules")
    job_id = created["job_id"]
    _bad(api.commit(job_id), "training data has not been uploaded")
    api.upload_package(created, EDITION_MEMBERS["basic"])
    assert api.commit(job_id).status_code == 200
    _bad(api.commit(job_id), "cannot be committed")
    api.wait_state(job_id, "SUCCEED")
    _bad(api.commit(job_id), "in state SUCCEED")
    missing = api.commit(str(uuid.uuid4()))
    assert missing.status_code == 404 and missing.json()["error_code"] == "MSS.00000001"


def test_audit_failure_then_reupload_and_success(api: Api) -> None:
    created = api.ready_job("basic", voice_name="auditfail-then-ok")
    job_id = created["job_id"]
    api.commit(job_id)
    job = api.wait_state(job_id, "AUDIT_FAILED")
    assert job["reject_times"] == 1
    errors = api.call("GET", f"/user/jobs/{job_id}/audit-result").json()["system_audit_result"]["errors"]
    assert errors and {"audio_name", "text_name", "error_code", "error_message"} <= set(errors[0])
    _bad(api.commit(job_id), "re-uploaded")
    urls = api.call("GET", f"/user/jobs/{job_id}/uploading-address-url").json()
    new_url = urls["package_url"]["training_data_uploading_url"]
    assert len(urls["segment_url"]["audio_uploading_url"]) == 20
    assert api.upload(new_url, make_zip(pairs(20))).status_code == 200
    assert api.commit(job_id).status_code == 200
    job = api.wait_state(job_id, "SUCCEED")
    assert job["reject_times"] == 1 and job["asset_id"]
    assert actions(api, job_id)[:4] == ["CREATE_JOB", "COMMIT_JOB", "AUDIT_NOT_PASS", "COMMIT_JOB"]
    audit = api.call("GET", f"/user/jobs/{job_id}/audit-result").json()
    assert audit["system_audit_result"]["errors"] == []


@pytest.mark.parametrize(
    ("edition", "data", "fragments"),
    [
        ("basic", b"this is not a zip", ["not a valid zip"]),
        ("basic", make_zip([m for m in pairs(20) if m not in ("5.wav", "19.txt")]), ["5.wav", "19.txt"]),
        ("middle", make_zip(pairs(20)), ["20.wav", "99.txt"]),
        ("advance", make_zip(["notes.txt"]), ["no .wav"]),
    ],
)
def test_bad_packages_fail_the_audit_naming_what_is_missing(
    api: Api, edition: str, data: bytes, fragments: list[str]
) -> None:
    created = api.create(edition, voice_name="plain-name")
    assert api.upload(created["training_data_uploading_url"], data).status_code == 200
    api.commit(created["job_id"])
    api.wait_state(created["job_id"], "AUDIT_FAILED")
    errors = api.call("GET", f"/user/jobs/{created['job_id']}/audit-result").json()["system_audit_result"][
        "errors"
    ]
    text = " ".join(str(e) for e in errors)
    for fragment in fragments:
        assert fragment in text


def test_segment_mode(api: Api) -> None:
    created = api.create("basic", voice_name="segments", create_type="SEGMENT")
    audio = created["segment_uploading_url"]["audio_uploading_url"]
    text = created["segment_uploading_url"]["txt_uploading_url"]
    assert len(audio) == len(text) == 20
    _bad(api.commit(created["job_id"]), "has not been uploaded")
    assert api.upload(audio[0], b"RIFF", "application/zip").status_code == 400  # wrong type for .wav
    for i in range(20):
        assert api.upload(audio[i], b"RIFF....WAVE", "audio/wav").status_code == 200
        if i != 7:
            assert api.upload(text[i], f"sentence {i}".encode(), "text/plain").status_code == 200
    api.commit(created["job_id"])
    api.wait_state(created["job_id"], "AUDIT_FAILED")
    assert api.upload(text[7], b"sentence 7", "text/plain").status_code == 200
    api.commit(created["job_id"])
    api.wait_state(created["job_id"], "SUCCEED")
    record = api.emu.control.job(created["job_id"])
    assert (
        len(record["uploads"]["audio_segments"]) == 20
        and record["uploads"]["text_segments"]["7"]["size"] == 10
    )


def _held_in_processing(api: Api, voice_name: str) -> str:
    """A committed job held in PROCESSING by the control API; its id."""
    job_id = str(api.ready_job("basic", voice_name=voice_name)["job_id"])
    api.emu.control.set_outcome(job_id, "PROCESSING")
    api.commit(job_id)
    api.wait_state(job_id, "PROCESSING")
    return job_id


def test_control_outcome_overrides_everything(api: Api) -> None:
    ctl = api.emu.control
    job_id = api.ready_job("basic", voice_name="fail-but-overridden")["job_id"]
    ctl.set_outcome(job_id, "SUCCEED")
    api.commit(job_id)
    api.wait_state(job_id, "SUCCEED")

    held = _held_in_processing(api, "plain")
    time.sleep(0.2)
    assert api.show(held)["state"] == "PROCESSING"
    ctl.set_outcome(held, "fail", job_failed_code="MSS.29999999", job_failed_reason="GPU on fire")
    job = api.wait_state(held, "FAILED")
    assert (job["job_failed_code"], job["job_failed_reason"]) == ("MSS.29999999", "GPU on fire")

    # An override set after a commit finished leaves that commit alone and applies to the next.
    failed_audit = api.ready_job("basic", voice_name="auditfail-override")["job_id"]
    api.commit(failed_audit)
    api.wait_state(failed_audit, "AUDIT_FAILED")
    ctl.set_outcome(failed_audit, "reject")
    time.sleep(0.05)
    assert api.show(failed_audit)["state"] == "AUDIT_FAILED"
    api.upload_package(
        api.call("GET", f"/user/jobs/{failed_audit}/uploading-address-url").json()["package_url"], pairs(20)
    )
    api.commit(failed_audit)
    api.wait_state(failed_audit, "USER_REVIEW_REJECT")

    bad_zip = api.create("basic", voice_name="x")
    api.upload(bad_zip["training_data_uploading_url"], b"not a zip")
    ctl.set_outcome(bad_zip["job_id"], "review")
    api.commit(bad_zip["job_id"])
    api.wait_state(bad_zip["job_id"], "USER_RESULT_REVIEW")


def test_control_outcome_at_once_skips_the_rest_of_the_timeline(api: Api) -> None:
    ctl = api.emu.control
    held = _held_in_processing(api, "plain")
    record = ctl.set_outcome(held, "SUCCEED", at_once=True)
    assert api.show(held)["state"] == "SUCCEED"
    passed = [step["state"] for step in record["commits"][-1]["passed"]]
    assert passed[-2:] == ["PROCESSING", "SUCCEED"], passed
    # a failure moved at once carries its details like any other
    failing = _held_in_processing(api, "plain-2")
    ctl.set_outcome(failing, "fail", at_once=True, job_failed_code="MSS.29999999")
    job = api.show(failing)
    assert (job["state"], job["job_failed_code"]) == ("FAILED", "MSS.29999999")
    # a job seeded in a fixed in-progress state moves too; one in a final state stays
    pinned = ctl.seed_job(state="PROCESSING")["job_id"]
    ctl.set_outcome(pinned, "SUCCEED", at_once=True, asset_id="asset-at-once")
    assert (api.show(pinned)["state"], api.show(pinned)["asset_id"]) == ("SUCCEED", "asset-at-once")
    ended = ctl.seed_job(state="FAILED")["job_id"]
    ctl.set_outcome(ended, "SUCCEED", at_once=True)
    assert api.show(ended)["state"] == "FAILED"


def test_time_scale_stretches_the_timeline() -> None:
    with EmulatorServer(EmulatorConfig(time_scale=3600)) as emu:
        api = Api(emu)
        job_id = api.ready_job("basic")["job_id"]
        api.commit(job_id)
        time.sleep(0.05)
        assert api.show(job_id)["state"] == "SYSTEM_AUDITING"
        commit = emu.control.job(job_id)["commits"][0]
        assert commit["time_scale"] == 3600
        assert sum(s["nominal_seconds"] or 0 for s in commit["timeline"]) == 19.0


def test_seeded_jobs(api: Api) -> None:
    ctl = api.emu.control
    fixed = ctl.seed_job(state="SUCCEED", voice_name="old", asset_id="asset-1", custom_field=[1, 2])
    job = api.show(fixed["job_id"])
    assert (job["state"], job["asset_id"], job["custom_field"]) == ("SUCCEED", "asset-1", [1, 2])
    assert actions(api, fixed["job_id"])[-1] == "COMPLETE_JOB"
    failed = api.show(ctl.seed_job(state="FAILED")["job_id"])
    assert failed["job_failed_code"] and failed["job_failed_reason"]
    unknown = api.show(ctl.seed_job(state="BRAND_NEW_STATE")["job_id"])
    assert unknown["state"] == "BRAND_NEW_STATE"
    time.sleep(0.05)
    assert api.show(fixed["job_id"])["state"] == "SUCCEED"  # fixed: no lifecycle

    moving = ctl.seed_job(state="PROCESSING", lifecycle=True, voice_name="mid-way", job_type="MIDDLE")
    assert moving["view"]["state"] == "PROCESSING"
    api.wait_state(moving["job_id"], "SUCCEED")
    audit_failed = ctl.seed_job(state="AUDIT_FAILED", uploaded=True)
    assert api.show(audit_failed["job_id"])["reject_times"] == 1
    api.commit(audit_failed["job_id"])  # seeded with an upload: committable
    api.wait_state(audit_failed["job_id"], "SUCCEED")
    with pytest.raises(EmulatorControlError, match="not on the"):
        ctl.seed_job(state="SPLITTING", lifecycle=True, job_type="BASIC")
    dated = ctl.seed_job(state="WAITING", create_time=1_700_000_000_000, lastupdate_time=1_700_000_360_000)
    assert (dated["view"]["create_time"], dated["view"]["lastupdate_time"]) == (
        1_700_000_000_000,
        1_700_000_360_000,
    )


def test_delete(api: Api) -> None:
    job_id = api.create("basic")["job_id"]
    assert api.call("DELETE", f"/user/jobs/{job_id}").status_code == 200
    assert api.call("GET", f"/user/jobs/{job_id}").status_code == 404
    assert api.call("DELETE", f"/user/jobs/{job_id}").status_code == 404


def test_app_user_id_scoping(api: Api) -> None:
    mine = api.call(
        "POST", "/user/basic-jobs", body={"voice_name": "a"}, headers={"X-App-UserId": "alice"}
    ).json()
    api.create("basic", voice_name="b")
    assert api.call("GET", "/user/jobs", headers={"X-App-UserId": "alice"}).json()["count"] == 1
    assert api.call("GET", "/user/jobs", headers={"X-App-UserId": "bob"}).json()["count"] == 0
    assert api.call("GET", "/user/jobs").json()["count"] == 2  # no header: the whole project
    assert api.call("GET", f"/user/jobs/{mine['job_id']}", headers={"X-App-UserId": "bob"}).status_code == 404
    shown = api.call("GET", f"/user/jobs/{mine['job_id']}", headers={"X-App-UserId": "alice"}).json()
    assert shown["app_user_id"] == "alice"
    # commit may move the job to another app user
    api.upload_package(mine, pairs(20))
    api.call("POST", f"/user/jobs/{mine['job_id']}", body={"app_user_id": "carol", "voice_name": "renamed"})
    shown = api.call("GET", f"/user/jobs/{mine['job_id']}", headers={"X-App-UserId": "carol"}).json()
    assert (shown["app_user_id"], shown["voice_name"]) == ("carol", "renamed")


def test_short_jobs(api: Api) -> None:
    r = api.call("POST", "/user/short-jobs", body={"job_type": "VOICE_ASSESS"})
    assert r.status_code == 200
    short = r.json()
    assert set(short) == {"job_id", "data_uploading_url"}
    _bad(api.call("POST", f"/user/short-jobs/{short['job_id']}"), "has not been uploaded")
    assert api.upload(short["data_uploading_url"], make_zip(["sample.wav"])).status_code == 200
    assert api.call("POST", f"/user/short-jobs/{short['job_id']}").status_code == 200
    deadline = time.monotonic() + 3
    while (job := api.call("GET", f"/user/short-jobs/{short['job_id']}").json())["state"] != "SUCCEED":
        assert time.monotonic() < deadline, job
        time.sleep(0.01)
    assert job["assess_result"]["snr"]["status"] == 0 and job["job_type"] == "VOICE_ASSESS"
    # short jobs are not voice jobs
    assert api.call("GET", f"/user/jobs/{short['job_id']}").status_code == 404
    assert api.call("GET", "/user/jobs").json()["count"] == 0
    bad = api.call("POST", "/user/short-jobs", body={"job_type": "VOICE_ASSESS", "language": "EN"}).json()
    api.upload(bad["data_uploading_url"], b"garbage")
    api.call("POST", f"/user/short-jobs/{bad['job_id']}")
    time.sleep(0.05)
    assert api.call("GET", f"/user/short-jobs/{bad['job_id']}").json()["state"] == "FAILED"
    _bad(api.call("POST", "/user/short-jobs", body={"language": "CN"}), "job_type")


def test_review_addresses_and_op_log_paging(api: Api) -> None:
    job_id = api.create("basic")["job_id"]
    r = api.call(
        "GET",
        f"/user/jobs/{job_id}/review-attachment-uploading-address-url",
        query={"start_number": 1, "end_number": 3},
    )
    assert [a["number"] for a in r.json()["addresses"]] == [1, 2, 3]
    assert (
        api.upload(r.json()["addresses"][0]["uploading_url"], b"%PDF", "application/pdf").status_code == 200
    )
    _bad(
        api.call(
            "GET",
            f"/user/jobs/{job_id}/review-attachment-uploading-address-url",
            query={"start_number": 5, "end_number": 1},
        ),
        "end_number",
    )
    page = api.call("GET", f"/user/jobs/{job_id}/op-logs", query={"offset": 1, "limit": 1}).json()
    assert page == {"count": 1, "operations": []}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "voice_name"),
        ({"voice_name": ""}, "voice_name"),
        ({"voice_name": "v", "sex": "OTHER"}, "sex"),
        ({"voice_name": "v", "language": "FR"}, "language"),
        ({"voice_name": "v", "tag": "SPORTS"}, "tag"),
        ({"voice_name": "v", "create_type": "STREAM"}, "create_type"),
        ({"voice_name": "v", "is_ondemand_resource": "yes"}, "is_ondemand_resource"),
        ({"voice_name": "v", "supported_service": ["VR"]}, "supported_service"),
        ({"voice_name": 5}, "voice_name"),
        ([1, 2], "JSON object"),
        (b"{not json", "not valid JSON"),
    ],
)
def test_create_validation(api: Api, body: Any, fragment: str) -> None:
    _bad(api.call("POST", "/user/basic-jobs", body=body), fragment)


def test_edition_specific_validation(api: Api) -> None:
    _bad(
        api.call("POST", "/user/advance-jobs", body={"voice_name": "v", "create_type": "SEGMENT"}), "PACKAGE"
    )
    job_id = api.create("basic")["job_id"]
    _bad(api.commit(job_id, body={"sex": "ROBOT"}), "sex")
    created = api.create("middle", is_ondemand_resource=True, tag="LIVE", batch_name="b1", phone="123")
    job = api.show(created["job_id"])
    assert (job["is_ondemand_resource"], job["tag"], job["batch_name"], job["phone"]) == (
        True,
        "LIVE",
        "b1",
        "123",
    )
    assert job["sex"] == "FEMALE" and job["language"] == "CN"  # documented defaults
    assert len(created["segment_uploading_url"]["audio_uploading_url"]) == 100
    assert api.create("advance")["segment_uploading_url"] == {
        "audio_uploading_url": [],
        "txt_uploading_url": [],
    }
