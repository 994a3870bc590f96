"""IAM password tokens (``POST /v3/auth/tokens``) and ``X-Auth-Token`` authentication."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from .helpers import OTHER_PROJECT, Api

ISO_MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _token_body(api: Api, password: str | None = None, scope: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = api.cfg
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": cfg.iam_user,
                        "password": password or cfg.iam_password,
                        "domain": {"name": cfg.domain_name},
                    }
                },
            },
            "scope": scope if scope is not None else {"project": {"id": cfg.project_id}},
        }
    }


def _post_tokens(api: Api, body: dict[str, Any], query: str = "") -> requests.Response:
    return api.session.post(
        f"{api.url}/v3/auth/tokens{query}",
        data=json.dumps(body),
        headers={"Content-Type": "application/json;charset=utf8"},
    )


def test_password_token_by_project_id_and_name(api: Api) -> None:
    r = _post_tokens(api, _token_body(api))
    assert r.status_code == 201, r.text
    token = r.headers["X-Subject-Token"]
    assert token.startswith("MII") and len(token) > 100
    body = r.json()["token"]
    assert ISO_MICRO.match(body["expires_at"]) and ISO_MICRO.match(body["issued_at"])
    issued = datetime.fromisoformat(body["issued_at"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - issued).total_seconds() - 24 * 3600) < 1
    assert body["project"]["id"] == api.cfg.project_id and body["methods"] == ["password"]
    assert body["user"]["name"] == api.cfg.iam_user and body["catalog"]
    assert len(r.headers["X-Request-Id"]) == 32

    by_name = _post_tokens(api, _token_body(api, scope={"project": {"name": "cn-east-3"}}), "?nocatalog=true")
    assert by_name.status_code == 201
    assert by_name.json()["token"]["project"]["id"] == OTHER_PROJECT
    assert by_name.json()["token"]["catalog"] == []

    assert api.call("GET", "/user/jobs", token=token).status_code == 200
    assert api.emu.control.requests("list_jobs")[-1]["auth"] == "token"


def test_iam_errors_are_keystone_shaped(api: Api) -> None:
    wrong = _post_tokens(api, _token_body(api, password="not-it"))
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
    }
    domain_scope = _post_tokens(api, _token_body(api, scope={"domain": {"name": api.cfg.domain_name}}))
    assert domain_scope.status_code == 400 and "project scope" in domain_scope.json()["error"]["message"]
    unknown_project = _post_tokens(api, _token_body(api, scope={"project": {"id": "0" * 32}}))
    assert unknown_project.status_code == 401
    assert _post_tokens(api, {"auth": {}}).status_code == 400
    not_json = api.session.post(f"{api.url}/v3/auth/tokens", data=b"{nope")
    assert not_json.status_code == 400 and "error" in not_json.json()


def test_bad_expired_and_foreign_tokens(api: Api) -> None:
    ctl = api.emu.control
    r = api.call("GET", "/user/jobs", token="MIIforged-token")
    assert r.status_code == 401 and r.json()["error_code"] == "APIG.0301"
    assert "decrypt token fail" in r.json()["error_msg"]

    # expiry on the gateway's clock: moved past it, not waited for
    short = ctl.issue_token(ttl_seconds=60)
    assert api.call("GET", "/user/jobs", token=short).status_code == 200
    ctl.set_clock_offset(61)
    assert api.call("GET", "/user/jobs", token=short).status_code == 401
    ctl.set_clock_offset(0)

    token = ctl.issue_token()
    assert api.call("GET", "/user/jobs", token=token).status_code == 200
    ctl.expire_tokens()
    expired = api.call("GET", "/user/jobs", token=token)
    assert expired.status_code == 401 and "decrypt token fail" in expired.json()["error_msg"]

    foreign = ctl.issue_token(project_id=OTHER_PROJECT)
    r = api.call("GET", "/user/jobs", token=foreign)
    assert r.status_code == 403 and r.json()["error_code"] == "APIG.0302"
    other_path = f"/v1/{OTHER_PROJECT}/voice-training-manage/user/jobs"
    assert api.call("GET", other_path, token=foreign).status_code == 200


def test_reset_forgets_tokens(api: Api) -> None:
    token = api.emu.control.issue_token()
    api.emu.control.reset()
    assert api.call("GET", "/user/jobs", token=token).status_code == 401


def test_control_lists_issued_tokens_as_digests_only(api: Api) -> None:
    ctl = api.emu.control
    assert ctl.tokens() == []
    minted = _post_tokens(api, _token_body(api)).headers["X-Subject-Token"]
    issued = ctl.issue_token(project_id=OTHER_PROJECT)
    raw = requests.get(f"{api.url}/_emulator/tokens").text
    assert minted not in raw and issued not in raw
    listed = ctl.tokens()
    assert [t["sha256"] for t in listed] == [hashlib.sha256(t.encode()).hexdigest() for t in (minted, issued)]
    assert [t["project_id"] for t in listed] == [api.cfg.project_id, OTHER_PROJECT]
    for token, entry in zip((minted, issued), listed, strict=True):
        assert entry["length"] == len(token) and token.startswith(entry["prefix"])
        assert entry["user_name"] == api.cfg.iam_user and entry["expired"] is False
        assert entry["expires_at"] > entry["issued_at"]
    ctl.expire_tokens()
    assert all(t["expired"] for t in ctl.tokens())
    ctl.reset()
    assert ctl.tokens() == []


def test_no_secret_reaches_the_request_log(api: Api) -> None:
    r = _post_tokens(api, _token_body(api))
    token = r.headers["X-Subject-Token"]
    api.call("GET", "/user/jobs", token=token)
    api.call("GET", "/user/jobs")
    api.call("GET", "/user/jobs", sk="wrong")
    created = api.create("basic")
    api.upload_package(created, ["0.wav"])
    dumped = json.dumps(api.emu.control.requests()) + json.dumps(api.emu.control.stats())
    presign = parse_qs(urlsplit(created["training_data_uploading_url"]).query)["Signature"][0]
    cfg = api.cfg
    for secret in (token, cfg.secret_key, cfg.iam_password, cfg.access_key, cfg.security_token, presign):
        assert secret not in dumped
    assert "SDK-HMAC-SHA256" not in dumped and "Signature=REDACTED" in dumped
