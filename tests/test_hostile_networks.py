"""Hostile networks and broken gateways, on raw sockets: every call ends in time, costs a bounded
amount of memory, fails with a typed error and leaks nothing.

Each case runs against :class:`tests.hostile_server.HostileServer` (a loopback socket server, no
HTTP library on its side) through the sync hook, the async hook, the sensor's poke and the
trigger. The connection allows ``timeout=1`` s per attempt and one retry, so a bounded call ends
within about two seconds however the server behaves. Figures (time per case, RSS growth) are
written to ``.test-artifacts/hostile-networks.txt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_voicetraining.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingError,
    VoiceTrainingResponseError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor
from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger
from tests import hostile_server as hostile
from tests.hostile_server import HostileServer

REPO = Path(__file__).resolve().parent.parent
ARTIFACT = REPO / ".test-artifacts" / "hostile-networks.txt"
JOB = "hostile-job"
AK = "HOSTILEAK00000000001"
SK = "hostile-secret-key-0000000000000000000001"
TOKEN = "MIIhostileReadyToken0000000000000000000000000000000000000000000042"
SECURITY_TOKEN = "HostileSecurityToken000000000000000000000000000000000000000000007"
SECRETS = (AK, SK, TOKEN, SECURITY_TOKEN)
#: one attempt <= 1 s, one retry: a bounded call ends within 2 attempts + back-off + scheduling
BOUND = 2 * 1.0 + 0.5 + 1.5
FIGURES: list[str] = []


def connection(url: str, auth: str = "aksk", **extra: Any) -> str:
    fields: dict[str, Any] = {
        "project_id": "0123456789abcdef0123456789abcdef",
        "endpoint": url,
        "iam_endpoint": url,
        "timeout": 1.0,
        "max_retries": 1,
        "retry_delay": 0.05,
        "retry_max_delay": 0.1,
        "call_timeout": 10,
        **extra,
    }
    if auth == "token":
        return json.dumps(
            {
                "conn_type": "huaweicloud_metastudio",
                "password": TOKEN,
                "extra": {**fields, "auth_type": "token"},
            }
        )
    if auth == "temporary":
        fields["security_token"] = SECURITY_TOKEN
    return json.dumps({"conn_type": "huaweicloud_metastudio", "login": AK, "password": SK, "extra": fields})


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HostileServer]]:
    """``serve(behaviour, auth="aksk")`` starts a hostile server and points ``hostile`` at it."""
    started: list[HostileServer] = []

    def start(behaviour: hostile.Behaviour, auth: str = "aksk", **extra: Any) -> HostileServer:
        server = HostileServer(behaviour).__enter__()
        started.append(server)
        monkeypatch.setenv("AIRFLOW_CONN_HOSTILE", connection(server.url, auth, **extra))
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every logger at DEBUG (the HTTP libraries' included); no secret may appear."""
    caplog.set_level(logging.DEBUG)
    for name in (
        "httpx",
        "httpcore",
        "httpcore.http11",
        "httpcore.connection",
        "airflow_provider_voicetraining",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    text = caplog.text
    for secret in SECRETS:
        assert secret not in text, f"a credential reached the logs: {secret[:6]}..."


def record(case: str, client: str, seconds: float, outcome: str) -> None:
    FIGURES.append(f"| {case} | {client} | {seconds:.2f} s | {outcome} |")


def teardown_module() -> None:
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text("| case | client | time | outcome |\n|---|---|---|---|\n" + "\n".join(FIGURES) + "\n")


# ------------------------------------------------------------------------------ the four clients
class _TI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def sync_get() -> Any:
    return VoiceTrainingHook("hostile").get_job(JOB)


def async_get() -> Any:
    async def go() -> Any:
        async with VoiceTrainingHook("hostile") as hook:
            return await hook.aget_job(JOB)

    return asyncio.run(go())


def poke() -> Any:
    sensor = VoiceTrainingJobSensor(
        task_id="hostile_wait", job_id=JOB, metastudio_conn_id="hostile", max_consecutive_errors=0
    )
    return sensor.poke({"ti": _TI()})  # type: ignore[arg-type]


def trigger_event(end_in: float = 3.0, tolerated: int = 0) -> dict[str, Any]:
    async def go() -> list[dict[str, Any]]:
        trigger = VoiceTrainingJobTrigger(
            job_id=JOB,
            metastudio_conn_id="hostile",
            poll_interval=0.2,
            end_time=time.time() + end_in,
            max_consecutive_errors=tolerated,
        )
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(go())
    assert len(events) == 1
    return events[0]


SYNC_CLIENTS: dict[str, Callable[[], Any]] = {
    "sync hook": sync_get,
    "async hook": async_get,
    "sensor poke": poke,
}


def failing(client: Callable[[], Any], expected: type[Exception]) -> tuple[float, Exception]:
    """Run ``client`` (timed from its call: the connection is loaded first) and expect ``expected``."""
    VoiceTrainingHook("hostile").settings  # noqa: B018 - the first connection load imports a lot
    started = time.monotonic()
    with pytest.raises(VoiceTrainingError) as info:
        client()
    elapsed = time.monotonic() - started
    assert isinstance(info.value, expected), f"{type(info.value).__name__}: {info.value}"
    return elapsed, info.value


# ------------------------------------------------------------------------------ time
@pytest.mark.parametrize(
    ("case", "behaviour"),
    [
        ("trickled headers (1 byte / 0.3 s)", hostile.trickle_headers(0.3)),
        ("trickled body (1 byte / 0.3 s)", hostile.trickle_body(0.3)),
        ("silence after accept", hostile.silence),
    ],
)
@pytest.mark.parametrize("client", list(SYNC_CLIENTS))
def test_slow_servers_cannot_hold_a_call(serve, case: str, behaviour: Any, client: str) -> None:  # type: ignore[no-untyped-def]
    server = serve(behaviour)
    elapsed, error = failing(SYNC_CLIENTS[client], VoiceTrainingTransportError)
    record(case, client, elapsed, type(error).__name__)
    assert elapsed <= BOUND, f"{client} took {elapsed:.1f}s against {case}"
    assert "deadline" in str(error) and "2 attempts" in str(error)
    assert len(server.requests) == 2  # the attempt and its one retry, each cut at 1 s


@pytest.mark.parametrize(
    "behaviour", [hostile.trickle_headers(0.3), hostile.silence], ids=["trickle", "silence"]
)
def test_trigger_poll_never_outlives_its_end_time_by_more_than_one_attempt(serve, behaviour: Any) -> None:  # type: ignore[no-untyped-def]
    # every poll fails slowly and errors are tolerated: only end_time can end the wait; a
    # call budget of 60 s would let a poll run far past it if the deadline did not bound it
    serve(behaviour, timeout=1.0, max_retries=20, call_timeout=60)
    started = time.monotonic()
    event = trigger_event(end_in=1.5, tolerated=100)
    elapsed = time.monotonic() - started
    record("trigger past end_time (1.5 s)", "trigger", elapsed, event["status"])
    assert event["status"] == "timeout", event
    assert "last state seen: none" in event["message"]
    assert elapsed <= 1.5 + 1.0 + 1.0  # end_time + one attempt's deadline + scheduling


# ------------------------------------------------------------------------------ memory
def peak_rss_growth(url: str) -> tuple[float, str]:
    """Run one sync call in a fresh interpreter; return its peak RSS growth (MB) and outcome.

    A thread samples the resident set every 2 ms during the call (``ru_maxrss`` would report
    the peak of the imports instead).
    """
    script = f"""
import json, os, threading
os.environ["AIRFLOW_CONN_HOSTILE"] = {connection(url)!r}
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

hook = VoiceTrainingHook("hostile")
hook.settings
peak = base = rss()
done = threading.Event()
def sample():
    global peak
    while not done.wait(0.002):
        peak = max(peak, rss())
threading.Thread(target=sample, daemon=True).start()
try:
    hook.get_job("{JOB}")
    outcome = "returned"
except Exception as exc:
    outcome = type(exc).__name__ + ": " + str(exc)[:200]
done.set()
peak = max(peak, rss())
print(json.dumps({{"growth_mb": (peak - base) / 1e6, "outcome": outcome}}))
"""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["growth_mb"]), str(result["outcome"])


@pytest.mark.parametrize(
    ("case", "behaviour"),
    [
        ("300 MB body", lambda: hostile.huge_body(300 * 1024 * 1024)),
        ("endless chunked body", lambda: hostile.endless_chunked),
        ("gzip bomb 1 MB -> 1 GiB", lambda: hostile.compressed(hostile.gzip_bomb(), "gzip")),
        ("double gzip from a few KB", lambda: hostile.compressed(hostile.double_gzip_bomb(), "gzip, gzip")),
    ],
)
def test_huge_endless_and_compressed_bodies_cost_one_capped_body(serve, case: str, behaviour: Any) -> None:  # type: ignore[no-untyped-def]
    server = serve(behaviour())
    growth, outcome = peak_rss_growth(server.url)
    record(case, "sync hook (subprocess)", 0.0, f"RSS +{growth:.1f} MB; {outcome[:60]}")
    assert outcome.startswith("VoiceTrainingResponseError"), outcome
    assert "larger than the provider accepts" in outcome
    assert growth < 64, f"{case}: peak RSS grew {growth:.0f} MB"


@pytest.mark.parametrize("client", ["async hook", "trigger"])
def test_async_reads_of_huge_bodies_do_not_block_the_loop(serve, client: str) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.compressed(hostile.gzip_bomb(), "gzip"))
    lags: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - started - 0.01)

    async def go() -> Any:
        stop = asyncio.Event()
        tick = asyncio.create_task(ticker(stop))
        try:
            if client == "trigger":
                trigger = VoiceTrainingJobTrigger(
                    job_id=JOB, metastudio_conn_id="hostile", max_consecutive_errors=0
                )
                return next(iter([e.payload async for e in trigger.run()]))
            async with VoiceTrainingHook("hostile") as hook:
                return await hook.aget_job(JOB)
        except VoiceTrainingError as exc:
            return exc
        finally:
            stop.set()
            await tick

    # a first async call imports httpcore's backends (a one-time cost, not a read)
    with contextlib.suppress(VoiceTrainingError):
        async_get()
    result = asyncio.run(go())
    record("gzip bomb, loop lag", client, max(lags), f"max lag {max(lags) * 1000:.0f} ms")
    if client == "trigger":
        assert result["status"] == "error" and "larger than the provider accepts" in result["message"]
    else:
        assert isinstance(result, VoiceTrainingResponseError)
    assert max(lags) < 0.25, f"the event loop was blocked for {max(lags):.2f}s"


# ------------------------------------------------------------------------------ malformed bodies
DEEP = hostile.deep_json(100_000)
BAD_BODIES = {
    "deep JSON in a 200": (200, DEEP, VoiceTrainingResponseError, "nested deeper"),
    "1e999 in a 200": (
        200,
        hostile.job_body(reject_times="REPLACE"),
        VoiceTrainingResponseError,
        "not finite",
    ),
    "a 5,000-digit number": (
        200,
        b'{"job_id": "j", "state": "W", "n": ' + b"9" * 5000 + b"}",
        VoiceTrainingResponseError,
        "integer",
    ),
    "invalid UTF-8": (
        200,
        b'{"job_id": "\xff\xfe", "state": "WAITING"}',
        VoiceTrainingResponseError,
        "UTF-8",
    ),
    "deep JSON in a 400": (400, DEEP, VoiceTrainingAPIError, "HTTP 400"),
    "unsupported Content-Encoding": (200, b"{}", VoiceTrainingTransportError, "Content-Encoding"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
@pytest.mark.parametrize("client", list(SYNC_CLIENTS))
def test_every_malformed_body_is_a_typed_error(serve, case: str, client: str) -> None:  # type: ignore[no-untyped-def]
    status, body, expected, mention = BAD_BODIES[case]
    body = body.replace(b'"REPLACE"', b"1e999")
    headers = {"Content-Encoding": "br"} if "Content-Encoding" in case else {}
    serve(hostile.fixed(status, body, **headers))
    elapsed, error = failing(SYNC_CLIENTS[client], expected)
    record(case, client, elapsed, type(error).__name__)
    assert mention in str(error), str(error)
    assert len(str(error)) <= 2000


def test_a_huge_finite_time_is_kept_as_unknown_not_a_crash(serve) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.fixed(200, hostile.job_body(create_time=1e300, lastupdate_time=-1e300, reject_times=1e300)))
    job = sync_get()
    assert job.create_time is None and job.lastupdate_time is None and job.reject_times is not None


def test_trigger_reports_garbled_bodies_as_error_events_not_crashes(serve) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.fixed(200, DEEP))
    event = trigger_event()
    assert event["status"] == "error" and "crashed" not in event["message"]
    assert "nested deeper" in event["message"]


# ------------------------------------------------------------------------------ Retry-After
@pytest.mark.parametrize(
    "retry_after",
    ["Wed, 21 Oct 9999999999 07:28:00 GMT", "-1", "nan", "1e999", "99999999999999999999", "soon"],
)
def test_retry_after_edge_values_never_raise_untyped_errors(serve, retry_after: str) -> None:  # type: ignore[no-untyped-def]
    body = b'{"error_code": "APIGW.0308", "error_msg": "throttled"}'
    serve(hostile.fixed(429, body, **{"Retry-After": retry_after}))
    elapsed, error = failing(sync_get, VoiceTrainingThrottledError)
    assert elapsed <= BOUND
    serve(
        hostile.fixed(
            400, b'{"error_code": "MSS.00000003", "error_msg": "bad"}', **{"Retry-After": retry_after}
        )
    )
    _, error = failing(sync_get, VoiceTrainingAPIError)
    assert error.retry_after is None or error.retry_after >= 0  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ echoed secrets
@pytest.mark.parametrize("auth", ["aksk", "token", "temporary"])
@pytest.mark.parametrize("client", list(SYNC_CLIENTS))
def test_echoed_credentials_are_redacted_everywhere(serve, auth: str, client: str) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.echo_credentials, auth)
    _, error = failing(SYNC_CLIENTS[client], VoiceTrainingAPIError)
    texts = [
        str(error),
        repr(error),
        str(getattr(error, "error_msg", "")),
        str(getattr(error, "error_code", "")),
    ]
    texts.append(str(getattr(error, "request_id", "")))
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
        assert "Signature=" not in text or "Signature=***" in text


@pytest.mark.parametrize("auth", ["aksk", "token"])
def test_echoed_credentials_in_trigger_events_are_redacted(serve, auth: str) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.echo_credentials, auth)
    event = json.dumps(trigger_event())
    assert not [s for s in SECRETS if s in event]
    assert len(event) < 6000


@pytest.mark.parametrize("cut", [499, 500, 510])
def test_a_secret_straddling_the_bound_leaks_no_part(serve, cut: int) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.echo_in_text_page(cut), "token")
    _, error = failing(sync_get, VoiceTrainingAPIError)
    message = str(error)
    for size in range(6, len(TOKEN) + 1):
        assert TOKEN[:size] not in message, f"{size} leading characters of the token leaked"


def test_redirects_are_not_followed(serve) -> None:  # type: ignore[no-untyped-def]
    target = serve(hostile.fixed(200, hostile.job_body()))
    redirect = serve(hostile.fixed(302, b"", Location=f"{target.url}/elsewhere"))
    os.environ["AIRFLOW_CONN_HOSTILE"] = connection(redirect.url)
    _, error = failing(sync_get, VoiceTrainingAPIError)
    assert error.status_code == 302 and target.requests == []  # type: ignore[attr-defined]


def test_a_5_mb_error_message_is_bounded_in_errors_and_events(serve) -> None:  # type: ignore[no-untyped-def]
    huge = json.dumps({"error_code": "MSS.00000003", "error_msg": "x" * 5_000_000}).encode()
    serve(hostile.fixed(400, huge))
    _, error = failing(sync_get, VoiceTrainingAPIError)
    assert len(str(error)) <= 2000 and len(error.error_msg or "") <= 500  # type: ignore[attr-defined]
    event = trigger_event()
    assert event["status"] == "error" and len(json.dumps(event)) < 6000


def test_a_poke_never_outlives_the_sensor_timeout(serve) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.silence, timeout=1.0, max_retries=10, call_timeout=60)
    sensor = VoiceTrainingJobSensor(
        task_id="hostile_wait",
        job_id=JOB,
        metastudio_conn_id="hostile",
        timeout=1.5,
        max_consecutive_errors=0,
    )
    started = time.monotonic()
    with pytest.raises(VoiceTrainingTransportError, match=r"time budget|deadline"):
        sensor.poke({"ti": _TI()})  # type: ignore[arg-type]
    assert time.monotonic() - started <= 1.5 + 0.7


# ------------------------------------------------------------------------------ messages (issue 19, class 7)
def _trigger_message(shared: bool) -> str:
    async def go() -> list[dict[str, Any]]:
        trigger = VoiceTrainingJobTrigger(
            job_id=JOB, metastudio_conn_id="hostile", poll_interval=0.2, shared_polling=shared
        )
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(asyncio.wait_for(go(), 30))
    assert [e["status"] for e in events] == ["error"]
    return str(events[0]["message"])


MESSAGE_CLIENTS: dict[str, Callable[[], str]] = {
    **{
        name: (lambda c=client: str(failing(c, VoiceTrainingAPIError)[1]))
        for name, client in SYNC_CLIENTS.items()
    },
    "trigger per-job": lambda: _trigger_message(False),
    "trigger shared": lambda: _trigger_message(True),
}


@pytest.mark.parametrize("client", list(MESSAGE_CLIENTS))
def test_a_redirect_says_so_where_to_and_to_check_the_endpoint(serve, client: str) -> None:  # type: ignore[no-untyped-def]
    target = serve(hostile.fixed(200, hostile.job_body()))
    redirect = serve(
        hostile.fixed(302, b"", Location=f"{target.url}/elsewhere?X-Obs-Signature=presigned-secret-0001")
    )
    os.environ["AIRFLOW_CONN_HOSTILE"] = connection(redirect.url)
    message = MESSAGE_CLIENTS[client]()
    assert "HTTP 302" in message and f"It was a redirect (to {target.url}/elsewhere)" in message
    assert "check the endpoint" in message and "rejected the request parameters" not in message
    assert "presigned-secret-0001" not in message  # a Location's query may be a credential
    assert target.requests == []  # type: ignore[attr-defined]


def _obs_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
        "<RequestId>0000018C</RequestId></Error>"
    ).encode()


@pytest.mark.parametrize(
    ("status", "code", "text", "expected"),
    [
        (
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
            "clock",
        ),
        (403, "AccessDenied", "Request has expired", "fetch fresh upload URLs with get_upload_urls"),
        (
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match",
            "get_upload_urls",
        ),
        (404, "NoSuchBucket", "The specified bucket does not exist", "the job was deleted?"),
        (400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size.", "size"),
    ],
    ids=["skewed clock", "expired URL", "bad signature", "no bucket", "too large"],
)
def test_upload_refusals_name_their_fix(
    serve, tmp_path, status: int, code: str, text: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    server = serve(hostile.fixed(status, _obs_error(code, text), **{"Content-Type": "application/xml"}))
    package = tmp_path / "p.zip"
    package.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(VoiceTrainingAPIError) as info:
        VoiceTrainingHook("hostile").upload_training_data(
            f"{server.url}/bucket/data.zip?Signature=s3cr3t", package
        )
    message = str(info.value)
    assert info.value.error_code == code and expected in message, message
    assert "IAM" not in message and "grant" not in message and "s3cr3t" not in message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (204, b"", "is not an answer show_job gives: check that the endpoint"),
        (
            400,
            b'{"error_code": "MSS.00000003", "error_msg": "bad"}',
            "rejected the show_job request's parameters",
        ),
        (401, b'{"error_code": "APIG.0301", "error_msg": "verify aksk signature fail"}', "AK (login) and SK"),
        (403, b'{"error_code": "APIG.0302", "error_msg": "no permission"}', "grant MetaStudio access"),
        (404, b'{"error_code": "MSS.00000404", "error_msg": "no job"}', "app_user_id"),
    ],
    ids=["204", "400", "401", "403", "404"],
)
def test_every_error_status_names_what_to_check(serve, status: int, body: bytes, expected: str) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.fixed(status, body))
    _, error = failing(sync_get, VoiceTrainingAPIError)
    assert expected in str(error), str(error)
