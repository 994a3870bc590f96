"""Server-side AK/SK verification: published vectors, signed requests end to end, clock skew,
lockout, project checks and temporary credentials."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_voicetraining._wire import signing
from metastudio_emulator import EmulatorConfig, EmulatorServer
from metastudio_emulator.auth import AkSkVerifier, KeyPair, SignedRequest
from metastudio_emulator.responses import ApiError

from .helpers import OTHER_PROJECT, Api

VECTORS = json.loads(Path("/work/shared/reference/signing-vectors.json").read_text())
INPUTS = VECTORS["inputs"]


def _vector_request(vector: dict[str, Any], host: str | None = None) -> SignedRequest:
    headers = {k.lower(): v for k, v in vector["headers_before_signing"].items()}
    headers["host"] = host or INPUTS["host"]
    headers["authorization"] = vector["authorization"]
    query = signing.canonical_query([tuple(p) for p in vector["query"]])
    body = vector["body"].encode() if vector["body"] is not None else b""
    return SignedRequest(vector["method"], vector["path"], query, headers, body)


def _verifier(sk: str = INPUTS["sk"]) -> AkSkVerifier:
    return AkSkVerifier({INPUTS["ak"]: KeyPair(sk)}, frozenset({INPUTS["project_id"]}))


VECTOR_NOW = signing.parse_sdk_date(INPUTS["x_sdk_date"])


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_vectors_accepted_when_host_and_clock_match(vector: dict[str, Any]) -> None:
    identity = _verifier().verify(_vector_request(vector), VECTOR_NOW + 60)
    assert identity.kind == "aksk"


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_vectors_rejected_with_wrong_sk_host_or_clock(vector: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as wrong_sk:
        _verifier(sk=INPUTS["sk"][:-1] + "2").verify(_vector_request(vector), VECTOR_NOW)
    assert (wrong_sk.value.status, wrong_sk.value.code) == (401, "APIG.0301")
    assert "verify aksk signature fail" in wrong_sk.value.message
    with pytest.raises(ApiError):
        _verifier().verify(_vector_request(vector, host="127.0.0.1:8080"), VECTOR_NOW)
    with pytest.raises(ApiError) as late:
        _verifier().verify(_vector_request(vector), VECTOR_NOW + 16 * 60)
    assert "signature expired" in late.value.message


def test_signed_requests_succeed_end_to_end(api: Api) -> None:
    created = api.create("basic", voice_name="my voice", tag="ECOMMERCE")
    query = [("state", "CREATING,WAITING"), ("voice_name", "my voice"), ("limit", "10"), ("offset", "0")]
    listed = api.call("GET", "/user/jobs", query=query)
    assert listed.status_code == 200, listed.text
    assert [j["job_id"] for j in listed.json()["jobs"]] == [created["job_id"]]
    assert api.call("GET", f"/user/jobs/{created['job_id']}").status_code == 200
    entry = api.emu.control.requests("list_jobs")[-1]
    assert entry["auth"] == "aksk" and entry["status"] == 200


def _assert_apig_401(response: Any, fragment: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error_code"] == "APIG.0301"
    assert fragment in body["error_msg"]
    assert body["request_id"] == response.headers["X-Request-Id"]


def test_wrong_secret_key_is_401(api: Api) -> None:
    _assert_apig_401(api.call("GET", "/user/jobs", sk="not-the-secret"), "verify aksk signature fail")


def test_unknown_access_key_is_401(api: Api) -> None:
    r = api.call("GET", "/user/jobs", ak="UNKNOWNAK00000000001")
    _assert_apig_401(r, "Get secretKey failed,ak:UNKNOWNAK00000000001,err:ak not exist")


def test_missing_credentials_is_401(api: Api) -> None:
    _assert_apig_401(api.call("GET", "/user/jobs", sign=False), "Incorrect IAM authentication information")


def test_tampering_is_detected(api: Api) -> None:
    path = api.prefix + "/user/basic-jobs"
    body = json.dumps({"voice_name": "a"}).encode()
    headers = signing.sign(
        method="POST",
        path=path,
        query="",
        headers={"Content-Type": "application/json"},
        body=body,
        host=api.host,
        access_key=api.cfg.access_key,
        secret_key=api.cfg.secret_key,
    )
    tampered_body = api.session.post(api.url + path, headers=headers, data=json.dumps({"voice_name": "b"}))
    _assert_apig_401(tampered_body, "verify aksk signature fail")
    tampered_query = api.session.post(api.url + path + "?x=1", headers=headers, data=body)
    _assert_apig_401(tampered_query, "verify aksk signature fail")
    assert api.session.post(api.url + path, headers=headers, data=body).status_code == 200


def test_x_sdk_date_and_host_must_be_signed(api: Api) -> None:
    path = api.prefix + "/user/jobs"
    headers = signing.sign(
        method="GET",
        path=path,
        query="",
        headers={"Content-Type": "application/json"},
        body=b"",
        host=api.host,
        access_key=api.cfg.access_key,
        secret_key=api.cfg.secret_key,
    )
    no_host = headers["Authorization"].replace("host;", "")
    _assert_apig_401(api.session.get(api.url + path, headers={**headers, "Authorization": no_host}), "verify")
    no_date = {k: v for k, v in headers.items() if k != "X-Sdk-Date"}
    _assert_apig_401(api.session.get(api.url + path, headers=no_date), "verify aksk signature fail")
    assert api.session.get(api.url + path, headers=headers).status_code == 200


def test_clock_skew_14_minutes_ok_16_rejected(api: Api) -> None:
    for minutes, expected in ((14, 200), (-14, 200), (16, 401), (-16, 401)):
        date = signing.format_sdk_date(time.time() + minutes * 60)
        r = api.call("GET", "/user/jobs", headers={"X-Sdk-Date": date})
        assert r.status_code == expected, (minutes, r.text)
        if expected == 401:
            _assert_apig_401(r, "signature expired")
    # The same through the server clock (control route), signing with the real time.
    api.emu.control.set_clock_offset(16 * 60)
    _assert_apig_401(api.call("GET", "/user/jobs"), "signature expired")
    api.emu.control.set_clock_offset(14 * 60)
    assert api.call("GET", "/user/jobs").status_code == 200


def test_lockout_after_five_consecutive_failures() -> None:
    with EmulatorServer(EmulatorConfig(lockout_seconds=60)) as emu:
        api = Api(emu)
        for _ in range(4):
            _assert_apig_401(api.call("GET", "/user/jobs", sk="bad"), "verify aksk signature fail")
        assert api.call("GET", "/user/jobs").status_code == 200  # success resets the count
        for _ in range(5):
            _assert_apig_401(api.call("GET", "/user/jobs", sk="bad"), "verify aksk signature fail")
        _assert_apig_401(api.call("GET", "/user/jobs"), "AK access failed to reach the limit,forbidden")
        # Other AKs are unaffected; the lock expires.
        temp = api.call(
            "GET",
            "/user/jobs",
            ak=emu.config.temp_access_key,
            sk=emu.config.temp_secret_key,
            headers={"X-Security-Token": emu.config.security_token},
        )
        assert temp.status_code == 200, temp.text
        emu.control.set_clock_offset(61)  # the lock is on the gateway's clock: moved past it
        assert api.call("GET", "/user/jobs").status_code == 200
        emu.control.reset()
        for _ in range(5):
            api.call("GET", "/user/jobs", sk="bad")
        emu.control.reset()  # reset clears lockouts
        assert api.call("GET", "/user/jobs").status_code == 200


def test_project_checks(api: Api) -> None:
    r = api.call("GET", "/user/jobs", headers={"X-Project-Id": OTHER_PROJECT})
    assert r.status_code == 403 and r.json()["error_code"] == "APIG.0302"
    foreign = "/v1/00000000000000000000000000000000/voice-training-manage/user/jobs"
    r = api.call("GET", foreign, project_header=False)
    assert r.status_code == 403
    # A project the account owns works, and its jobs are separate.
    api.create("basic")
    other = f"/v1/{OTHER_PROJECT}/voice-training-manage/user/jobs"
    r = api.call("GET", other, headers={"X-Project-Id": OTHER_PROJECT})
    assert r.status_code == 200 and r.json()["count"] == 0
    assert api.call("GET", "/user/jobs").json()["count"] == 1


def test_temporary_credentials_need_the_security_token(api: Api) -> None:
    cfg = api.cfg

    def temp(headers: dict[str, str] | None = None) -> Any:
        return api.call("GET", "/user/jobs", headers=headers, ak=cfg.temp_access_key, sk=cfg.temp_secret_key)

    _assert_apig_401(temp(), "verify aksk signature fail")
    _assert_apig_401(temp({"X-Security-Token": "nope"}), "verify aksk signature fail")
    ok = temp({"X-Security-Token": cfg.security_token})
    assert ok.status_code == 200, ok.text
    assert api.emu.control.requests("list_jobs")[-1]["auth"] == "aksk_temporary"
    # A permanent AK must not present a security token.
    perm = api.call("GET", "/user/jobs", headers={"X-Security-Token": cfg.security_token})
    _assert_apig_401(perm, "verify aksk signature fail")


def test_utf8_app_user_id_verifies_and_chinese_is_refused(api: Api) -> None:
    # The SDK sends header values as UTF-8 bytes (value.encode('utf-8').decode('iso-8859-1')).
    def wire(value: str) -> str:
        return value.encode("utf-8").decode("iso-8859-1")

    path = api.prefix + "/user/jobs"
    for value, status in (("user-é", 200), ("用户", 400)):
        headers = signing.sign(
            method="GET",
            path=path,
            query="",
            headers={"Content-Type": "application/json", "X-App-UserId": value},
            body=b"",
            host=api.host,
            access_key=api.cfg.access_key,
            secret_key=api.cfg.secret_key,
        )
        headers["X-App-UserId"] = wire(value)
        r = api.session.get(api.url + path, headers=headers)
        assert r.status_code == status, r.text
    assert api.emu.control.requests("list_jobs")[0]["app_user_id"] == "user-é"
