"""Fault injection: each kind observable, reproducible for a seed, never on control routes."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import httpx
import pytest
import requests

from airflow_provider_voicetraining._wire import signing
from metastudio_emulator import EmulatorConfig, EmulatorControlError, EmulatorServer
from metastudio_emulator.auth import TokenBucket
from tests.helpers import SCHEDULING_SLACK

from .helpers import Api


def _statuses(api: Api, job_id: str, n: int) -> list[int]:
    return [api.call("GET", f"/user/jobs/{job_id}").status_code for _ in range(n)]


def test_status_fault_with_gateway_and_service_bodies(api: Api) -> None:
    job_id = api.create("basic")["job_id"]
    api.emu.control.set_faults([{"route": "show_job", "kind": "status", "status": 503}])
    r = api.call("GET", f"/user/jobs/{job_id}")
    assert r.status_code == 503
    assert r.json() == {
        "error_code": "APIG.0201",
        "error_msg": "Backend unavailable",
        "request_id": r.headers["X-Request-Id"],
    }
    assert api.call("GET", "/user/jobs").status_code == 200  # other routes untouched
    api.emu.control.set_faults([{"route": "show_job", "kind": "status", "status": 500}])
    r = api.call("GET", f"/user/jobs/{job_id}")
    assert r.status_code == 500 and r.json()["error_code"] == "MSS.00000002"
    # Faults come before authentication: an unsigned request sees the fault, not a 401.
    assert api.call("GET", f"/user/jobs/{job_id}", sign=False).status_code == 500
    entry = api.emu.control.requests("show_job")[-1]
    assert entry["fault"] == "status" and entry["status"] == 500


def test_throttle_with_retry_after_and_burst(api: Api) -> None:
    job_id = api.create("basic")["job_id"]
    api.emu.control.set_faults(
        [{"route": "show_job", "kind": "throttle", "retry_after": 2, "burst": 2, "times": 1}]
    )
    responses = [api.call("GET", f"/user/jobs/{job_id}") for _ in range(4)]
    assert [r.status_code for r in responses] == [429, 429, 429, 200]
    first = responses[0]
    assert first.headers["Retry-After"] == "2"
    assert first.json()["error_code"] == "APIGW.0308"
    assert "throttling threshold" in first.json()["error_msg"]
    assert api.emu.control.faults()["triggered"] == {"throttle": 3}


def test_latency(api: Api) -> None:
    api.emu.control.set_faults(
        [{"route": "list_jobs", "kind": "latency", "min_delay": 0.2, "max_delay": 0.25}]
    )
    start = time.perf_counter()
    assert api.call("GET", "/user/jobs").status_code == 200
    assert 0.2 <= time.perf_counter() - start < 0.25 + SCHEDULING_SLACK
    assert api.emu.control.requests("list_jobs")[-1]["fault"] == "latency"


def _signed_get(api: Api, path: str) -> tuple[str, dict[str, str]]:
    full = api.prefix + path
    headers = signing.sign(
        method="GET",
        path=full,
        query="",
        headers={"Content-Type": "application/json"},
        body=b"",
        host=urlsplit(api.url).netloc,
        access_key=api.cfg.access_key,
        secret_key=api.cfg.secret_key,
    )
    return api.url + full, headers


def test_drop_breaks_the_response_for_requests_and_httpx(api: Api) -> None:
    job_id = api.create("basic")["job_id"]
    api.emu.control.set_faults([{"route": "show_job", "kind": "drop"}])
    url, headers = _signed_get(api, f"/user/jobs/{job_id}")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(url, headers=headers, timeout=5)
    with pytest.raises(httpx.RemoteProtocolError, match="peer closed connection"):
        httpx.get(url, headers=headers, timeout=5)
    entries = api.emu.control.requests("show_job")
    assert [e["status"] for e in entries] == [None, None] and entries[0]["fault"] == "drop"
    assert api.emu.control.stats()["requests"]["show_job"] == {"dropped": 2}
    api.emu.control.clear_faults()
    assert requests.get(url, headers=headers, timeout=5).status_code == 200  # server still healthy


def test_drop_after_or_before_processing(api: Api) -> None:
    ctl = api.emu.control
    ctl.set_faults([{"route": "create_basic_job", "kind": "drop"}])
    with pytest.raises(requests.exceptions.RequestException):
        api.call("POST", "/user/basic-jobs", body={"voice_name": "lost-answer"})
    assert [j["meta"]["voice_name"] for j in ctl.jobs()] == ["lost-answer"]  # created, answer lost
    ctl.set_faults([{"route": "create_basic_job", "kind": "drop", "process": False}])
    with pytest.raises(requests.exceptions.RequestException):
        api.call("POST", "/user/basic-jobs", body={"voice_name": "never-created"})
    assert len(ctl.jobs()) == 1


def test_malformed_body(api: Api) -> None:
    job_id = api.ready_job("basic")["job_id"]
    api.emu.control.set_faults([{"route": "show_job", "kind": "malformed"}])
    r = api.call("GET", f"/user/jobs/{job_id}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.content.startswith(b'{"job_type"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    api.emu.control.set_faults([{"route": "commit_job", "kind": "malformed"}])  # empty body -> HTML
    assert api.commit(job_id).content.startswith(b"<html>")


def test_token_expiry(api: Api) -> None:
    ctl = api.emu.control
    token = ctl.issue_token()
    ctl.set_faults([{"route": "list_jobs", "kind": "token_expiry", "times": 1}])
    r = api.call("GET", "/user/jobs", token=token)
    assert r.status_code == 401 and "decrypt token fail" in r.json()["error_msg"]
    assert api.call("GET", "/user/jobs", token=token).status_code == 401  # that token stays expired
    assert api.call("GET", "/user/jobs", token=ctl.issue_token()).status_code == 200
    assert api.emu.control.requests("list_jobs")[0]["fault"] == "token_expiry"


def test_decisions_are_reproducible_per_seed_and_per_route(api: Api) -> None:
    ctl = api.emu.control
    job_id = api.create("basic")["job_id"]
    rules = [{"route": "show_job", "kind": "status", "status": 502, "rate": 0.5}]
    ctl.set_faults(rules, seed=42)
    first = _statuses(api, job_id, 30)
    assert set(first) == {200, 502}
    ctl.set_faults(rules, seed=42)
    second = []
    for _ in range(30):  # traffic to another route must not shift show_job's sequence
        api.call("GET", "/user/jobs")
        second.append(api.call("GET", f"/user/jobs/{job_id}").status_code)
    assert second == first
    ctl.set_faults(rules, seed=43)
    assert _statuses(api, job_id, 30) != first


def test_wildcard_rules_spare_the_control_plane(api: Api) -> None:
    ctl = api.emu.control
    created = api.create("basic")
    ctl.set_faults([{"route": "*", "kind": "status", "status": 503}])
    assert api.call("GET", "/user/jobs").status_code == 503
    assert api.upload(created["training_data_uploading_url"], b"x").status_code == 503
    assert "<Code>" in api.upload(created["training_data_uploading_url"], b"x").text  # OBS-style body
    iam = api.session.post(api.url + "/v3/auth/tokens", json={})
    assert iam.status_code == 503 and "error" in iam.json()
    assert ctl.health()["status"] == "ok" and ctl.stats()["requests"]["list_jobs"] == {"503": 1}


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ({"route": "show_jobs", "kind": "status"}, "unknown route"),
        ({"route": "show_job", "kind": "explode"}, "unknown fault kind"),
        ({"route": "show_job", "kind": "status", "rate": 2}, "rate"),
        ({"route": "show_job", "kind": "latency", "min_delay": 2, "max_delay": 1}, "min_delay"),
        ({"route": "show_job", "kind": "status", "colour": "red"}, "unknown fault rule keys"),
    ],
)
def test_invalid_rules_are_refused(api: Api, rule: dict[str, object], fragment: str) -> None:
    with pytest.raises(EmulatorControlError, match=fragment) as info:
        api.emu.control.set_faults([rule])
    assert info.value.status == 400


def test_rate_limit_per_access_key(api: Api) -> None:
    ctl = api.emu.control
    ctl.set_rate_limit(0.01, burst=2)  # a token per 100 s: none comes back while the test runs
    statuses = [api.call("GET", "/user/jobs").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    r = api.call("GET", "/user/jobs")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    cfg = api.cfg
    temp = api.call(
        "GET",
        "/user/jobs",
        ak=cfg.temp_access_key,
        sk=cfg.temp_secret_key,
        headers={"X-Security-Token": cfg.security_token},
    )
    assert temp.status_code == 200  # another AK has its own bucket
    ctl.set_clock_offset(101)  # the bucket fills on the gateway's clock: moved 100 s on
    assert api.call("GET", "/user/jobs").status_code == 200


def test_a_token_bucket_counts_no_time_from_a_clock_moved_back() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, now=1000.0)
    assert bucket.take(1000.0) == 0.0
    assert bucket.take(940.0) == pytest.approx(1.0)  # moved back a minute: nothing refilled...
    assert bucket.take(941.0) == 0.0  # ...and nothing held back: a second on, a token is back


def test_configured_faults_and_reset() -> None:
    cfg = EmulatorConfig(faults=[{"route": "list_jobs", "kind": "status", "status": 500}], fault_seed=3)
    with EmulatorServer(cfg) as emu:
        api = Api(emu)
        assert api.call("GET", "/user/jobs").status_code == 500
        emu.control.clear_faults()
        assert api.call("GET", "/user/jobs").status_code == 200
        emu.control.reset()  # back to the startup state, configured faults included
        assert api.call("GET", "/user/jobs").status_code == 500
        assert emu.control.faults()["seed"] == 3
