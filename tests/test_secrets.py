"""No credential (AK, SK, IAM password, issued or stored tokens, security token) appears in logs,
exception messages, reprs, trigger kwargs or events; Airflow's masker knows all of them."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._wire.tokens import TOKENS
from airflow_provider_voicetraining.errors import VoiceTrainingError
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger


def _secrets(emu, conn: dict[str, Any]) -> list[str]:  # type: ignore[no-untyped-def]
    values = [
        emu.config.access_key,
        emu.config.secret_key,
        emu.config.temp_access_key,
        emu.config.temp_secret_key,
        emu.config.security_token,
        emu.config.iam_password,
        conn.get("password") or "",
    ]
    values += [entry.token.reveal() for entry in TOKENS._entries.values()]
    return [v for v in values if v]


def _assert_clean(texts: list[str], secrets: list[str]) -> None:
    blob = "\n".join(texts)
    leaked = [s[:4] + "..." for s in secrets if s in blob]
    assert not leaked, f"secrets leaked: {leaked}"


@pytest.mark.parametrize("auth_type", ["aksk", "aksk_temporary", "password", "token"])
def test_no_secret_in_logs_errors_or_reprs(emu, use_conn, caplog, capsys, auth_type: str) -> None:  # type: ignore[no-untyped-def]
    conn = use_conn(emu, auth_type, max_retries=1)
    texts: list[str] = []
    job_id = emu.control.seed_job(state="FAILED", job_failed_code="MSS.1", job_failed_reason="r")["job_id"]
    with caplog.at_level(logging.DEBUG):
        hook = VoiceTrainingHook()
        job = hook.get_job(job_id)
        texts += [repr(hook), repr(hook.settings), str(hook.settings), repr(job), json.dumps(job.to_dict())]
        texts.append(json.dumps(hook.get_failure_details(job).to_dict()))
        created = hook.create_job("basic", voice_name="secret-scan")
        texts += [repr(created), repr(created.upload_urls)]
        # faults: retries log warnings; token expiry forces a refresh in password mode
        emu.control.set_faults(
            [
                {"route": "show_job", "kind": "status", "status": 503, "times": 1},
                {"route": "show_job", "kind": "token_expiry", "times": 1},
            ]
        )
        try:
            hook.get_job(job_id)
        except VoiceTrainingError as exc:  # token mode cannot refresh: an auth error
            texts += [str(exc), repr(exc)]
        emu.control.clear_faults()
        for failing in (
            lambda: hook.get_job("26f06524-4f75-4b3a-a853-b649a21aaf66"),
            lambda: hook.commit_job(created.job_id),
        ):
            with pytest.raises(VoiceTrainingError) as info:
                failing()
            texts += [str(info.value), repr(info.value)]
        _ok, message = hook.test_connection()
        texts.append(message)
    # a wrong SK and an unknown AK: the gateway's messages echo the AK
    for login, password in ((None, "wrong-secret-key-0000000000000000"), ("UNKNOWNAK00000000001", None)):
        if auth_type != "aksk":
            break
        use_conn(emu, auth_type, login=login, password=password, max_retries=0)
        with pytest.raises(VoiceTrainingError) as info:
            VoiceTrainingHook().get_job(job_id)
        texts += [str(info.value), repr(info.value), str(info.value.error_msg)]
        if login:
            assert "***" in str(info.value)  # the echoed AK was redacted
            conn = {**conn, "login_unknown": login}
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.args) for r in caplog.records]
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]
    secrets = _secrets(emu, conn)
    if "login_unknown" in conn:
        secrets.append(conn["login_unknown"])
    assert secrets
    _assert_clean(texts, secrets)


async def test_trigger_kwargs_and_events_hold_no_secret(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    conn = use_conn(emu, "password")
    job_id = emu.control.seed_job(state="AUDIT_FAILED")["job_id"]
    trigger = VoiceTrainingJobTrigger(job_id=job_id, poll_interval=0.05)
    events = [e.payload async for e in trigger.run()]
    _assert_clean([json.dumps(trigger.serialize()), json.dumps(events)], _secrets(emu, conn))


def test_airflow_masker_knows_every_credential(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    for auth_type in ("aksk_temporary", "password", "token"):
        use_conn(emu, auth_type)
        hook = VoiceTrainingHook()
        hook.get_job(emu.control.seed_job(state="WAITING")["job_id"])
        secrets = [s.reveal() for s in hook.settings.secrets()]
        secrets += [entry.token.reveal() for entry in TOKENS._entries.values()]
        for secret in secrets:
            assert secret not in compat.redact(f"value={secret}")


def test_secret_objects_refuse_serialization() -> None:
    import pickle

    from airflow_provider_voicetraining._wire.secrets import Secret

    secret = Secret("s3cr3t-value")
    assert "s3cr3t" not in repr(secret) + str(secret) + f"{secret}" + f"{secret!r}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps(secret)


def test_minted_tokens_never_reach_any_log_at_debug(emu, use_conn, caplog) -> None:  # type: ignore[no-untyped-def]
    """httpcore logs response headers at DEBUG: the X-Subject-Token of a minted token must not show."""
    import asyncio

    from airflow_provider_voicetraining._wire.tokens import cache_key

    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "httpcore.http11", "httpcore.connection"):
        caplog.set_level(logging.DEBUG, logger=name)
    conn = use_conn(emu, "password")
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    hook = VoiceTrainingHook()
    assert hook.get_job(job_id).state == "WAITING"
    sync_token = TOKENS.valid(cache_key(hook.settings))

    async def poll() -> str:
        TOKENS.clear()  # the async path mints its own
        async with VoiceTrainingHook() as async_hook:
            return (await async_hook.aget_job(job_id)).state

    assert asyncio.run(poll()) == "WAITING"
    async_token = TOKENS.valid(cache_key(hook.settings))
    assert sync_token is not None and async_token is not None and sync_token != async_token
    text = caplog.text
    assert "receive_response_headers" in text  # httpcore's DEBUG lines really were captured
    assert "x-subject-token" in text.lower()
    assert sync_token.reveal() not in text and async_token.reveal() not in text
    assert conn["password"] not in text


# ---------------------------------------------------------------- redaction by value (issue 19)
HOSTILE_SECRET = "HPUAEXAMPLEAK0000001"


@pytest.mark.parametrize(
    ("registered", "text"),
    [
        ("AK\n", "access key AK shown bare"),
        ("AK\r\n", "access key AK shown bare"),
        (" AK ", "access key AK shown bare"),
        ("AK\t", "in a header: (b'X-Echo', b'AK')"),
        ("AK", "percent-encoded: AK%0A is still AK"),
        ("PART1xxxxx PART2yyyyy", "only the second part PART2yyyyy leaked"),
        ("PART1xxxxx PART2yyyyy", "only the first part PART1xxxxx leaked"),
        ('quote"back\\slash', 'json: "quote\\"back\\\\slash"'),
        ("pct/secret+value=1", "url: pct%2Fsecret%2Bvalue%3D1"),
        ("bytes'quote\\value", repr([(b"X-Echo", b"bytes'quote\\value")])),
    ],
    ids=[
        "trailing LF",
        "trailing CRLF",
        "spaces around",
        "trailing TAB in a header",
        "bare",
        "second part",
        "first part",
        "JSON-escaped",
        "percent-encoded",
        "bytes repr",
    ],
)
def test_the_redactor_hides_every_variant_of_a_secret(registered: str, text: str) -> None:
    from airflow_provider_voicetraining._wire.secrets import EVERY_SECRET, Redactor

    value = registered.replace("AK", HOSTILE_SECRET)
    shown = text.replace("AK", HOSTILE_SECRET)
    redacted = Redactor([value])(shown) or ""
    logged = EVERY_SECRET(shown) or ""  # what the HTTP libraries' log filter shows
    core = value.strip()
    parts = [p for p in value.split() if len(p) >= 8]
    for text in (redacted, logged):
        assert "***" in text
        for leak in [core, *parts]:
            assert leak not in text, text


def test_the_http_library_log_filter_hides_secrets_by_value_in_any_header(caplog) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining._wire.log_scrub import scrub_http_library_logs
    from airflow_provider_voicetraining._wire.secrets import Redactor

    Redactor(["EchoedTokenValue0000000000000000000042"])
    scrub_http_library_logs()
    line = (
        "receive_response_headers.complete return_value=(b'HTTP/1.1', 400, b'X', "
        "[(b'X-Request-Id', b'EchoedTokenValue0000000000000000000042'), "
        "(b'Location', b'https://h/p?X-Amz-Signature=abc')])"
    )
    with caplog.at_level(logging.DEBUG, logger="httpcore.http11"):
        logging.getLogger("httpcore.http11").debug("%s", line)
    assert "EchoedTokenValue" not in caplog.text and "X-Amz-Signature=abc" not in caplog.text
    assert "X-Request-Id" in caplog.text
