"""``VoiceTrainingHook.get_conn()`` and ``MetaStudioAuth``: any MetaStudio call through ``requests``.

Against the emulator over real HTTP, in every auth mode: the emulator's gateway accepts what the
session sends (a GET with a query, a POST with a JSON body, a path needing quoting), and the
official ``huaweicloudsdkcore`` signer, given the same requests, computes the same
``Authorization``. Redirects and other hosts use this suite's own loopback servers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests

from airflow_provider_voicetraining._wire import signing
from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining._wire.tokens import TOKENS, cache_key
from airflow_provider_voicetraining.auth import MetaStudioAuth
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from metastudio_emulator import EmulatorServer
from tests.hostile_server import Connection, HostileServer
from tests.wire.test_signing import official_sign

MODES = ["aksk", "aksk_temporary", "password", "token"]
#: what the emulator's request log calls each mode
LOGGED_AUTH = {"aksk": "aksk", "aksk_temporary": "aksk_temporary", "password": "token", "token": "token"}
QUOTED_ASSET = "voice asset:ü~(1)"
#: every header the auth may add: none of them may reach another host
ENDPOINT_HEADERS = (
    "authorization",
    "x-auth-token",
    "x-security-token",
    "x-project-id",
    "x-sdk-date",
    "x-app-userid",
)


def standalone_auth(emu: EmulatorServer, mode: str, endpoint: str | None = None) -> MetaStudioAuth:
    """``MetaStudioAuth`` built outside Airflow, from keyword arguments (the emulator's IAM)."""
    cfg = emu.config
    credentials: dict[str, Any] = {
        "aksk": {"access_key": cfg.access_key, "secret_key": cfg.secret_key},
        "aksk_temporary": {
            "access_key": cfg.temp_access_key,
            "secret_key": cfg.temp_secret_key,
            "security_token": cfg.security_token,
        },
        "password": {"user_name": cfg.iam_user, "password": cfg.iam_password, "domain_name": cfg.domain_name},
        "token": {"token": emu.control.issue_token()} if mode == "token" else {},
    }[mode]
    return MetaStudioAuth(
        cfg.project_id,
        endpoint=endpoint or emu.url,
        iam_endpoint=emu.url,
        verify=emu.ca_file or True,
        **credentials,
    )


@pytest.fixture(params=["hook", "standalone"])
def session_for(request: pytest.FixtureRequest, use_conn: Any) -> Iterator[Any]:
    """``session_for(emu, mode, endpoint=None)``: the hook's ``get_conn()``, or a plain
    ``requests.Session`` with a standalone ``MetaStudioAuth``; closed after the test.
    ``endpoint`` replaces the emulator as the MetaStudio endpoint (its IAM still mints)."""
    opened: list[Any] = []

    def make(emu: EmulatorServer, mode: str, endpoint: str | None = None) -> requests.Session:
        if request.param == "hook":
            use_conn(emu, mode, **({"endpoint": endpoint} if endpoint else {}))
            hook = VoiceTrainingHook()
            opened.append(hook)
            return hook.get_conn()
        session = requests.Session()
        session.auth = standalone_auth(emu, mode, endpoint)
        opened.append(session)
        return session

    yield make
    for item in opened:
        item.close()


def three_calls(emu: EmulatorServer, session: requests.Session) -> list[requests.Response]:
    """A GET with a query string, a POST with a JSON body, a GET whose path needs quoting."""
    project = emu.config.project_id
    base = f"/v1/{project}/voice-training-manage/user"
    emu.control.seed_job(state="WAITING", voice_name="my voice, 2+2")
    emu.control.seed_job(state="SUCCEED", asset_id=QUOTED_ASSET, voice_name="quoted")
    prefix = "" if hasattr(session, "endpoint") else emu.url  # the hook's session takes paths
    listed = session.get(
        prefix + base + "/jobs",
        params={"voice_name": "my voice, 2+2", "state": "FAILED,WAITING", "limit": 10},
    )
    created = session.post(prefix + base + "/basic-jobs", json={"voice_name": "session voice", "sex": "MALE"})
    asset = session.get(f"{prefix}/v1/{project}/digital-assets/{quote(QUOTED_ASSET, safe='')}")
    return [listed, created, asset]


@pytest.mark.parametrize("mode", MODES)
def test_get_post_and_quoted_path_pass_the_gateway_in_every_mode(emu, session_for, mode: str) -> None:  # type: ignore[no-untyped-def]
    listed, created, asset = three_calls(emu, session_for(emu, mode))
    assert listed.status_code == 200, listed.text
    assert [j["voice_name"] for j in listed.json()["jobs"]] == ["my voice, 2+2"]  # "+" and " " kept apart
    assert created.status_code == 200, created.text
    job = emu.control.job(created.json()["job_id"])
    assert (job["meta"]["voice_name"], job["meta"]["sex"]) == ("session voice", "MALE")
    assert asset.status_code == 200, asset.text
    assert asset.json()["asset_id"] == QUOTED_ASSET
    log = [e for e in emu.control.requests() if e["route"] != "iam_tokens"]
    assert [(e["route"], e["status"], e["auth"]) for e in log] == [
        (route, 200, LOGGED_AUTH[mode]) for route in ("list_jobs", "create_basic_job", "show_asset")
    ]
    # the query sent is the canonical one, as the official SDK sends it
    assert (
        urlsplit(listed.request.url).query
        == "limit=10&state=FAILED%2CWAITING&voice_name=my%20voice%2C%202%2B2"
    )


@pytest.mark.sdk
@pytest.mark.parametrize("mode", ["aksk", "aksk_temporary"])
def test_official_signer_computes_the_same_authorization(emu, session_for, mode: str) -> None:  # type: ignore[no-untyped-def]
    cfg = emu.config
    ak, sk = (
        (cfg.access_key, cfg.secret_key) if mode == "aksk" else (cfg.temp_access_key, cfg.temp_secret_key)
    )
    responses = three_calls(emu, session_for(emu, mode))
    assert [r.status_code for r in responses] == [200, 200, 200]
    for response in responses:
        sent = response.request
        parsed = signing.parse_authorization(sent.headers["Authorization"])
        assert ("x-security-token" in parsed.signed_headers) == (mode == "aksk_temporary")
        assert {"host", "x-sdk-date", "x-project-id", "user-agent"} <= set(parsed.signed_headers)
        url = urlsplit(sent.url)
        official = official_sign(
            method=sent.method,
            path=url.path,
            query_params=parse_qsl(url.query, keep_blank_values=True),
            headers={name: sent.headers[name] for name in parsed.signed_headers if name != "host"},
            body=sent.body,
            host=url.netloc,
            access_key=ak,
            secret_key=sk,
        )
        assert official.header_params["Authorization"] == sent.headers["Authorization"]


def test_the_hook_session_resolves_paths_and_sends_the_default_app_user(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, app_user_id="user-1")
    emu.control.seed_job(state="SUCCEED", asset_id="asset-of-user-1", app_user_id="user-1")
    path = f"/v1/{emu.config.project_id}/digital-assets/asset-of-user-1"
    with VoiceTrainingHook() as hook:
        session = hook.get_conn()
        assert hook.get_conn() is session  # one per hook
        assert session.get(path).json()["app_user_id"] == "user-1"
        assert session.get(path, headers={"X-App-UserId": "user-2"}).status_code == 404  # the call's own wins
    with VoiceTrainingHook(app_user_id="user-2") as hook:  # the hook's override beats the connection's
        assert hook.get_conn().get(path).status_code == 404
    assert [e["app_user_id"] for e in emu.control.requests("show_asset")] == ["user-1", "user-2", "user-2"]
    assert {e["status"] for e in emu.control.requests("show_asset")} == {200, 404}


def test_closing_the_hook_closes_its_session(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    session = hook.get_conn()
    assert session.get(f"/v1/{emu.config.project_id}/digital-assets/none").status_code == 404
    pools = session.get_adapter(emu.url).poolmanager.pools  # type: ignore[attr-defined]
    assert len(pools) == 1
    hook.close()
    assert len(pools) == 0
    assert hook.get_conn() is not session
    hook.close()


def test_a_request_without_timeout_gets_the_connections(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    def silent(conn: Connection) -> None:
        conn.pause(30)  # until the server stops

    with HostileServer(silent) as server:
        use_conn(emu, endpoint=server.url, timeout=0.3)
        with VoiceTrainingHook() as hook, pytest.raises(requests.exceptions.ReadTimeout):
            hook.get_conn().get("/v1/anything")


def test_the_connections_ca_bundle_wins_over_requests_ca_bundle(tls_emu, use_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())  # does not know the emulator's CA
    use_conn(tls_emu)
    with VoiceTrainingHook() as hook:
        assert hook.get_conn().get(f"/v1/{tls_emu.config.project_id}/digital-assets/x").status_code == 404


# ------------------------------------------------------------------------------------- tokens


def test_one_token_for_the_process_shared_with_the_typed_calls(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "password")
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    path = f"/v1/{emu.config.project_id}/voice-training-manage/user/jobs/{job_id}"
    hooks = [VoiceTrainingHook() for _ in range(4)]
    barrier = threading.Barrier(len(hooks))
    statuses: list[int] = []

    def call(hook: VoiceTrainingHook) -> None:
        barrier.wait()
        statuses.append(hook.get_conn().get(path).status_code)

    threads = [threading.Thread(target=call, args=(h,)) for h in hooks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert statuses == [200] * 4
    standalone = requests.Session()
    standalone.auth = standalone_auth(emu, "password")
    assert standalone.get(emu.url + path).status_code == 200
    assert hooks[0].get_job(job_id).state == "WAITING"  # the typed call uses the same token
    assert len(emu.control.tokens()) == 1
    assert len(emu.control.requests("iam_tokens")) == 1
    for hook in hooks:
        hook.close()
    standalone.close()


def test_a_refused_token_is_reminted_once(emu, use_conn, caplog) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "password")
    emu.control.seed_job(state="SUCCEED", asset_id="asset-1")
    path = f"/v1/{emu.config.project_id}/digital-assets/asset-1"
    with VoiceTrainingHook() as hook:
        session = hook.get_conn()
        assert session.get(path).status_code == 200
        first = TOKENS.valid(cache_key(hook.settings))
        # the gateway expires the token just before checking it: 401, a new token, 200
        emu.control.set_faults([{"route": "show_asset", "kind": "token_expiry", "times": 1}])
        answer = session.get(path)
        assert answer.status_code == 200
        assert [r.status_code for r in answer.history] == [401]
        second = TOKENS.valid(cache_key(hook.settings))
        assert second is not None and second != first
        assert answer.request.headers["X-Auth-Token"] == second.reveal()
        assert "token rejected (HTTP 401); minting a new one" in caplog.text
        # refused again after the re-mint: no second re-mint, the 401 is the answer
        emu.control.set_faults([{"route": "show_asset", "kind": "token_expiry", "times": 2}])
        refused = session.get(path)
        assert refused.status_code == 401 and [r.status_code for r in refused.history] == [401]
    assert [e["status"] for e in emu.control.requests("show_asset")] == [200, 401, 200, 401, 401]
    assert len(emu.control.requests("iam_tokens")) == 3


def test_a_ready_token_is_not_reminted(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "token")
    emu.control.set_faults([{"route": "show_asset", "kind": "token_expiry", "times": 1}])
    with VoiceTrainingHook() as hook:
        refused = hook.get_conn().get(f"/v1/{emu.config.project_id}/digital-assets/x")
    assert refused.status_code == 401 and refused.history == []
    assert emu.control.requests("iam_tokens") == []


# ------------------------------------------------------------------------------------- other hosts


def _headers_of(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head)}


def _landing(conn: Connection) -> None:
    conn.answer(200, b"{}", {"Content-Type": "application/json"})


@pytest.mark.parametrize("mode", MODES)
def test_a_redirect_to_another_host_carries_no_credentials(emu, session_for, mode: str) -> None:  # type: ignore[no-untyped-def]
    with HostileServer(_landing) as landing:

        def redirect(conn: Connection) -> None:
            conn.answer(302, b"", {"Location": f"{landing.url}/landing?x=1"})

        with HostileServer(redirect) as endpoint:
            session = session_for(emu, mode, endpoint.url)
            prefix = "" if hasattr(session, "endpoint") else endpoint.url
            answer = session.get(prefix + "/v1/start", headers={"X-App-UserId": "user-1"})
            assert answer.status_code == 200 and [r.status_code for r in answer.history] == [302]
            sent = _headers_of(endpoint.requests[0])
            assert {"x-app-userid", "x-project-id" if mode.startswith("aksk") else "x-auth-token"} <= set(
                sent
            )
    received = landing.requests[0]
    headers = _headers_of(received)
    assert [h for h in ENDPOINT_HEADERS if h in headers] == []
    assert headers["host"] == urlsplit(landing.url).netloc
    for secret in _secret_values(emu):
        assert secret.encode() not in received


def test_a_same_origin_redirect_is_signed_again(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    cfg = emu.config

    def endpoint(conn: Connection) -> None:
        if conn.request.startswith(b"POST /v1/first "):
            conn.answer(307, b"", {"Location": "/v1/second?b=2&a=1"})
            return
        head, _, body = conn.request.partition(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
        path, _, query = target.partition("?")
        headers = _headers_of(conn.request)
        ok = signing.verify(
            method=method,
            path=path,
            raw_query=query,
            headers=headers,
            body=body,
            auth=signing.parse_authorization(headers["authorization"]),
            secret_key=cfg.secret_key,
        )
        conn.answer(200 if ok else 401, b"{}")

    with HostileServer(endpoint) as server:
        use_conn(emu, endpoint=server.url)
        with VoiceTrainingHook() as hook:
            answer = hook.get_conn().post("/v1/first", json={"voice_name": "moved"})
        assert answer.status_code == 200 and [r.status_code for r in answer.history] == [307]
        second = server.requests[1]
        assert second.startswith(b"POST /v1/second?a=1&b=2 ") and second.endswith(b'{"voice_name": "moved"}')


@pytest.mark.parametrize("mode", ["aksk_temporary", "password"])
def test_calls_to_another_host_carry_no_credentials(emu, session_for, mode: str) -> None:  # type: ignore[no-untyped-def]
    with HostileServer(_landing) as other:
        session = session_for(emu, mode)
        assert (
            session.get(other.url + "/presigned/upload?sig=1", headers={"Accept": "*/*"}).status_code == 200
        )
    headers = _headers_of(other.requests[0])
    assert [h for h in ENDPOINT_HEADERS if h in headers] == []


# ------------------------------------------------------------------------------------- construction


def test_standalone_auth_checks_its_arguments_before_any_request(emu) -> None:  # type: ignore[no-untyped-def]
    cfg = emu.config
    with pytest.raises(VoiceTrainingValidationError, match="no auth mode"):
        MetaStudioAuth(cfg.project_id)
    with pytest.raises(VoiceTrainingValidationError, match="mix auth modes"):
        MetaStudioAuth(cfg.project_id, access_key=cfg.access_key, secret_key=cfg.secret_key, token="t0ken")
    with pytest.raises(VoiceTrainingValidationError, match="not an access key"):
        MetaStudioAuth(cfg.project_id, access_key="AK with spaces", secret_key=cfg.secret_key)
    with pytest.raises(VoiceTrainingValidationError, match="project_id"):
        MetaStudioAuth("bad/project", access_key=cfg.access_key, secret_key=cfg.secret_key)
    auth = MetaStudioAuth(cfg.project_id, access_key=cfg.access_key, secret_key=cfg.secret_key)
    assert auth.endpoint == "https://metastudio.cn-north-4.myhuaweicloud.com"
    assert auth.project_id == cfg.project_id
    assert emu.control.requests() == []


def test_a_streamed_body_cannot_be_signed(emu) -> None:  # type: ignore[no-untyped-def]
    session = requests.Session()
    session.auth = standalone_auth(emu, "aksk")
    with pytest.raises(VoiceTrainingValidationError, match="cannot hash"):
        session.post(emu.url + "/v1/x", data=iter([b"a", b"b"]))
    session.close()
    assert emu.control.requests() == []


def test_the_auth_module_imports_no_airflow() -> None:
    from tests.wire.test_layers import _loaded_after

    loaded = _loaded_after("", ["airflow_provider_voicetraining.auth"])
    assert "requests" in loaded and "airflow_provider_voicetraining._wire.signing" in loaded
    assert [m for m in loaded if m == "airflow" or m.startswith("airflow.")] == []


def _secret_values(emu: EmulatorServer) -> list[str]:
    cfg = emu.config
    values = [cfg.access_key, cfg.secret_key, cfg.temp_access_key, cfg.temp_secret_key]
    values += [cfg.security_token, cfg.iam_password]
    values += [entry.token.reveal() for entry in TOKENS._entries.values()]
    return values
