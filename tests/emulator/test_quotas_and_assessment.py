"""Quotas (``GET P/quotas``) and the recording check (short jobs) of the emulator.

* Every edition's counter (``Edition.quota_key``, from the provider's table) is served; a voice
  job uses one training at its first commit through the API, not at create and not again when
  re-committed after ``AUDIT_FAILED``; pay-per-use middle jobs use ``middle_on_demand``.
* A commit with the counter at 0 is refused (400) and the job stays uncommitted.
* The control API sets totals; reset restores the configured ones.
* A short job's assessment depends on the package: recording names ask for out-of-range
  properties, no ``.wav`` fails the check.
"""

from __future__ import annotations

import time

import pytest

from airflow_provider_voicetraining._wire.vocabulary import EDITIONS, QUOTA_KEYS
from metastudio_emulator import EmulatorConfig, EmulatorServer
from metastudio_emulator.control import EmulatorControlError

from .helpers import Api, make_zip, pairs


def _available(api: Api) -> dict[str, int]:
    body = api.call("GET", "/quotas").json()
    return body["resource_available_nums"]  # type: ignore[no-any-return]


def test_every_edition_counter_is_served_and_commits_use_them(api: Api) -> None:
    start = _available(api)
    assert set(start) == set(QUOTA_KEYS) and set(start.values()) == {100}
    assert {e.quota_key for e in EDITIONS.values()} | {"middle_on_demand", "flexus"} == set(start)
    created = api.ready_job("basic", voice_name="auditfail-quota")
    assert _available(api)["basic"] == 100  # creating uses nothing
    assert api.commit(created["job_id"]).status_code == 200
    assert _available(api)["basic"] == 99
    api.wait_state(created["job_id"], "AUDIT_FAILED")
    # re-upload and re-commit: the same training, no second one used
    urls = api.call("GET", f"/user/jobs/{created['job_id']}/uploading-address-url").json()
    assert (
        api.upload(urls["package_url"]["training_data_uploading_url"], make_zip(pairs(20))).status_code == 200
    )
    assert api.commit(created["job_id"]).status_code == 200
    assert _available(api)["basic"] == 99
    on_demand = api.ready_job("middle", is_ondemand_resource=True)
    api.commit(on_demand["job_id"])
    after = _available(api)
    assert (after["middle_on_demand"], after["middle"], after["advance"]) == (99, 100, 100)
    body = api.call("GET", "/quotas", query={"limit": 2}).json()
    assert body["count"] == len(QUOTA_KEYS) and len(body["resources"]) == 2


def test_commit_without_quota_is_refused_and_the_job_stays_uncommitted(api: Api) -> None:
    assert api.emu.control.set_quotas(basic=1)["available"]["basic"] == 1
    first = api.ready_job("basic")
    assert api.commit(first["job_id"]).status_code == 200
    second = api.ready_job("basic")
    refused = api.commit(second["job_id"])
    assert refused.status_code == 400 and refused.json()["error_code"] == "MSS.20005001"
    assert "no basic training left" in refused.json()["error_msg"]
    assert api.show(second["job_id"])["state"] == "CREATING"
    assert _available(api)["basic"] == 0
    # other counters are untouched; seeded jobs used theirs before the emulator started
    api.emu.control.seed_job(state="SUCCEED", job_type="MIDDLE")
    assert _available(api)["middle"] == 100
    api.emu.control.reset()
    assert _available(api)["basic"] == 100


def test_configured_totals_and_control_errors() -> None:
    with EmulatorServer(EmulatorConfig(quotas={"advance": 0}, quota_per_edition=3)) as emu:
        api = Api(emu)
        assert _available(api)["advance"] == 0 and _available(api)["basic"] == 3
        with pytest.raises(EmulatorControlError, match="unknown quota counters"):
            emu.control.set_quotas(gold=1)
        with pytest.raises(EmulatorControlError, match="non-negative"):
            emu.control.set_quotas(basic=-1)


def _assess(api: Api, members: dict[str, bytes] | list[str] | bytes) -> dict[str, object]:
    short = api.call("POST", "/user/short-jobs", body={"job_type": "VOICE_ASSESS"}).json()
    data = members if isinstance(members, bytes) else make_zip(members)
    assert api.upload(short["data_uploading_url"], data).status_code == 200
    assert api.call("POST", f"/user/short-jobs/{short['job_id']}").status_code == 200
    deadline = time.monotonic() + 3
    while (job := api.call("GET", f"/user/short-jobs/{short['job_id']}").json())["state"] not in (
        "SUCCEED",
        "FAILED",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.01)
    return job  # type: ignore[no-any-return]


def test_assessment_outcome_depends_on_the_package(api: Api) -> None:
    good = _assess(api, ["a.wav", "b.wav"])
    assert good["state"] == "SUCCEED"
    result = good["assess_result"]
    assert isinstance(result, dict) and {p["status"] for k, p in result.items() if k != "suggestion"} == {0}
    bad = _assess(api, ["noisy-room.wav", "quiet.wav", "ok.wav"])
    result = bad["assess_result"]
    assert isinstance(result, dict)
    assert {k for k, p in result.items() if k != "suggestion" and p["status"]} == {"snr", "sound"}
    assert "quiet room" in result["snr"]["suggestion_en"] and "do not meet" in result["suggestion"]
    assert _assess(api, ["notes.txt"])["state"] == "FAILED"
    assert _assess(api, b"not a zip")["state"] == "FAILED"
    # a check uses no training quota
    assert set(_available(api).values()) == {100}
