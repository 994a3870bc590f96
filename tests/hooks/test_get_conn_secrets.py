"""No credential reaches a ``repr``, an exception or a log line (DEBUG, ``urllib3`` included) when
calls go through ``get_conn()`` / ``MetaStudioAuth``, with hostile secrets: quotes, backslashes,
percent signs, regex and URL metacharacters, which escaping or encoding could hide from a naive
check (each secret is searched as it is, JSON-escaped, ``repr``-escaped and percent-encoded)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
import requests

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._wire.tokens import TOKENS, cache_key
from airflow_provider_voicetraining.errors import VoiceTrainingError
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from metastudio_emulator import EmulatorConfig, EmulatorServer
from tests.hostile_server import Connection, HostileServer

HOSTILE = {
    "access_key": "HOSTILEAK0000000000042",
    "secret_key": "Sk\"'\\%2F+/=.*[x]{2}$(a)|b&c=d;e<f>#g",
    "temp_access_key": "HOSTILETMPAK00000042",
    "temp_secret_key": "Tk\\u0041%25+=&q=1;*?^$|()[]{}\"'",
    "security_token": "St%0A\"\\*+?=&;,x'y<z>{}[]^$|()",
    "iam_password": "Pw\"\\{}[]()^$.|?*+%25&=;'#",
}


@pytest.fixture(scope="module")
def hostile_emu() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorConfig(time_scale=0.01, seed=4, **HOSTILE)) as server:
        yield server


def _forms(secret: str) -> set[str]:
    """The secret as it is, and as JSON, ``repr``, URL encoding or an f-string would show it."""
    return {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}


@pytest.mark.parametrize("mode", ["aksk", "aksk_temporary", "password", "token"])
def test_no_secret_in_reprs_exceptions_or_debug_logs(
    hostile_emu, use_conn, caplog, capsys, mode: str
) -> None:  # type: ignore[no-untyped-def]
    emu = hostile_emu
    emu.control.reset()
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "urllib3.connectionpool", "airflow_provider_voicetraining", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    conn = use_conn(emu, mode, max_retries=0)
    emu.control.seed_job(state="SUCCEED", asset_id="asset-1")
    texts: list[str] = []
    seen_tokens: set[str] = set()

    def note(response: requests.Response) -> requests.Response:
        """Remember every token the session sent (a dropped one leaves the cache)."""
        for sent in (*response.history, response):
            token = sent.request.headers.get("X-Auth-Token")
            if token:
                seen_tokens.add(str(token))
        return response

    project = emu.config.project_id
    with VoiceTrainingHook() as hook:
        session = hook.get_conn()
        texts += [repr(session), str(session), repr(session.auth), str(session.auth), repr(hook)]
        texts.append(repr(session.__dict__))
        assert note(session.get(f"/v1/{project}/digital-assets/asset-1")).status_code == 200
        created = session.post(
            f"/v1/{project}/voice-training-manage/user/basic-jobs", json={"voice_name": "v"}
        )
        assert created.status_code == 200
        missing = session.get(f"/v1/{project}/digital-assets/nothing")
        with pytest.raises(requests.HTTPError) as http_error:
            missing.raise_for_status()
        texts += [str(http_error.value), repr(http_error.value)]
        if mode == "password":  # a refused token: re-minted (logged at INFO)
            emu.control.set_faults([{"route": "show_asset", "kind": "token_expiry", "times": 1}])
            assert note(session.get(f"/v1/{project}/digital-assets/asset-1")).status_code == 200
            token = TOKENS.valid(cache_key(hook.settings))
            assert token is not None and token.reveal() not in compat.redact(f"x={token.reveal()}")
        with HostileServer(lambda c: c.answer(200, b"{}")) as landing:

            def redirect(c: Connection) -> None:
                c.answer(302, b"", {"Location": landing.url + "/elsewhere"})

            with HostileServer(redirect) as endpoint:
                use_conn(emu, mode, max_retries=0, endpoint=endpoint.url)
                with VoiceTrainingHook() as moved:
                    assert moved.get_conn().get("/v1/redirected").status_code == 200
        # a closed port: the connection error names the URL, nothing else
        use_conn(emu, mode, max_retries=0, endpoint=endpoint.url)
        with VoiceTrainingHook() as dead, pytest.raises(requests.ConnectionError) as refused:
            dead.get_conn().get("/v1/refused")
        texts += [str(refused.value), repr(refused.value)]
    if mode == "password":  # minting fails: the IAM password is wrong
        use_conn(emu, mode, max_retries=0, password=HOSTILE["iam_password"] + "x")
        seen_tokens.update(e.token.reveal() for e in TOKENS._entries.values())
        TOKENS.clear()
        with VoiceTrainingHook() as wrong, pytest.raises(VoiceTrainingError) as mint_failed:
            wrong.get_conn().get(f"/v1/{project}/digital-assets/asset-1")
        texts += [str(mint_failed.value), repr(mint_failed.value)]
    texts += [r.getMessage() for r in caplog.records] + [str(r.args) for r in caplog.records]
    texts.append(caplog.text)
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    assert any("urllib3" in r.name for r in caplog.records)  # its DEBUG lines really were captured
    seen_tokens.update(e.token.reveal() for e in TOKENS._entries.values())
    assert seen_tokens if mode in ("password", "token") else not seen_tokens
    secrets = [*HOSTILE.values(), conn["password"], *seen_tokens]
    blob = "\n".join(texts)
    leaked = sorted({s[:4] + "..." for s in secrets for form in _forms(s) if form in blob})
    assert not leaked, f"secrets leaked: {leaked}"
