"""The control plane, request ids, request log, stats, console page and connection strings."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from metastudio_emulator import EmulatorControl, EmulatorControlError

from .helpers import Api

RID = re.compile(r"^[0-9a-f]{32}$")


def test_health_and_request_ids_everywhere(api: Api) -> None:
    ctl = api.emu.control
    assert ctl.health()["status"] == "ok"
    responses = [
        requests.get(api.url + "/_emulator/health"),
        requests.get(api.url + "/_emulator/nope"),
        requests.get(api.url + "/v1/x/unknown"),
        requests.delete(api.url + "/v3/auth/tokens"),
        api.call("GET", "/user/jobs"),
        api.call("GET", "/user/jobs", sk="bad"),
        api.call("GET", "/user/jobs", query={"limit": 0}),
        requests.put(api.url + "/_obs/x/data.zip", data=b""),
    ]
    ids = [r.headers["X-Request-Id"] for r in responses]
    assert all(RID.match(i) for i in ids) and len(set(ids)) == len(ids)
    assert responses[1].status_code == 404 and "no control route" in responses[1].json()["error"]
    assert responses[2].status_code == 404 and responses[2].json()["error_code"] == "APIG.0101"
    assert responses[3].status_code == 404  # APIG identifies an API by method + path


def test_request_log_filter_and_clear(api: Api) -> None:
    ctl = api.emu.control
    api.call("GET", "/user/jobs", headers={"X-App-UserId": "u-1"})
    api.create("basic")
    requests.get(api.url + "/nowhere")
    ctl.health()  # control routes are not logged
    log = ctl.requests()
    assert [e["route"] for e in log] == ["list_jobs", "create_basic_job", "unmatched"]
    first = log[0]
    assert first["app_user_id"] == "u-1" and first["auth"] == "aksk" and first["method"] == "GET"
    assert (
        first["status"] == 200 and RID.match(first["request_id"]) and first["client"].startswith("127.0.0.1:")
    )
    assert set(first) == {
        "time",
        "request_id",
        "method",
        "route",
        "path",
        "query",
        "status",
        "auth",
        "app_user_id",
        "client",
        "fault",
        "auth_error",
        "duration_ms",
    }
    assert [e["route"] for e in ctl.requests("create_basic_job")] == ["create_basic_job"]
    api.call("GET", "/user/jobs", sk="bad")
    assert ctl.requests("list_jobs")[-1]["auth_error"] == "signature mismatch"
    ctl.clear_requests()
    assert ctl.requests() == [] and ctl.stats()["requests_total"] == 0


def test_stats(api: Api) -> None:
    ctl = api.emu.control
    with requests.Session() as one, requests.Session() as two:
        for session in (one, one, one, two):
            Api(api.emu, session).call("GET", "/user/jobs")
    Api(api.emu).call("GET", "/user/jobs", sk="bad")
    stats = ctl.stats()
    assert stats["requests"] == {"list_jobs": {"200": 4, "401": 1}}
    assert stats["connections"] == 3  # keep-alive: one per session
    assert stats["requests_total"] == 5
    assert stats["cpu_seconds"] > 0 and stats["uptime_seconds"] > 0 and stats["cpu_user_seconds"] >= 0


def test_reset_restores_a_clean_state(api: Api) -> None:
    ctl = api.emu.control
    api.create("basic")
    ctl.set_faults([{"route": "show_job", "kind": "status"}])
    ctl.set_clock_offset(3600)
    ctl.reset()
    assert ctl.jobs() == [] and ctl.requests() == [] and ctl.faults()["rules"] == []
    assert api.call("GET", "/user/jobs").status_code == 200  # clock offset gone


def test_job_record_outcome_errors_and_console(api: Api) -> None:
    ctl = api.emu.control
    seeded = ctl.seed_job(state="WAITING", voice_name="<script>x</script>")
    record = ctl.job(seeded["job_id"])
    assert record["view"]["state"] == "WAITING" and record["seeded"] is True
    with pytest.raises(EmulatorControlError) as info:
        ctl.job("missing")
    assert info.value.status == 404
    with pytest.raises(EmulatorControlError, match="unknown outcome"):
        ctl.set_outcome(seeded["job_id"], "EXPLODED")
    assert ctl.set_outcome(seeded["job_id"], "fail")["outcome_override"] == "FAILED"
    assert ctl.set_outcome(seeded["job_id"], None)["outcome_override"] is None
    page = requests.get(ctl.console_url(seeded["job_id"]))
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert seeded["job_id"] in page.text and "<script>x" not in page.text and "WAITING" in page.text
    assert requests.get(ctl.console_url("missing")).status_code == 404
    bad = requests.post(api.url + "/_emulator/jobs", data=b"{oops")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    with EmulatorControl(api.url) as other, pytest.raises(EmulatorControlError, match="kind"):
        other.seed_job(kind="robot")


def test_connection_strings(api: Api) -> None:
    emu = api.emu
    aksk = json.loads(emu.connection_json())
    assert aksk["conn_type"] == "huaweicloud_metastudio"
    assert (aksk["login"], aksk["password"]) == (emu.config.access_key, emu.config.secret_key)
    assert aksk["extra"] == {
        "project_id": emu.config.project_id,
        "endpoint": emu.url,
        "iam_endpoint": emu.url,
        "verify": True,
        "region": "cn-north-4",
        "console_url": f"{emu.url}/_emulator/console/jobs/{{job_id}}",
    }
    temp = json.loads(emu.connection_json("aksk_temporary", timeout=5))
    assert "auth_type" not in temp["extra"] and temp["extra"]["security_token"] == emu.config.security_token
    assert temp["login"] == emu.config.temp_access_key and temp["extra"]["timeout"] == 5
    password = json.loads(emu.connection_json("password"))
    assert (
        password["login"] == emu.config.iam_user
        and password["extra"]["domain_name"] == emu.config.domain_name
    )
    token = json.loads(emu.connection_json("token"))
    assert api.call("GET", "/user/jobs", token=token["password"]).status_code == 200
    with pytest.raises(ValueError, match="auth_type"):
        emu.connection_json("oauth")
    # Airflow's masker warns "too short to mask" (in every task log) for extra values under 5
    # characters: the printed connections hold none
    for conn in (aksk, temp, password, token):
        assert all(len(v) >= 5 for v in conn["extra"].values() if isinstance(v, str)), conn["extra"]

    uri = emu.connection_uri("password", app_user_id="a b&c")
    parts = urlsplit(uri)
    assert parts.scheme == "huaweicloud-metastudio" and parts.hostname is None
    assert unquote(parts.username or "") == emu.config.iam_user
    assert unquote(parts.password or "") == emu.config.iam_password
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["endpoint"] == emu.url and query["verify"] == "true" and query["app_user_id"] == "a b&c"
    assert query["domain_name"] == emu.config.domain_name and query["auth_type"] == "password"


@pytest.mark.parametrize(
    "bad",
    [{"port": 70000}, {"time_scale": -1}, {"token_ttl_seconds": 0}, {"secret_key": ""}],
)
def test_config_is_validated(bad: dict[str, object]) -> None:
    from metastudio_emulator import EmulatorConfig

    with pytest.raises(ValueError):
        EmulatorConfig(**bad)  # type: ignore[arg-type]
