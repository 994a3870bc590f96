"""Hostile networks and broken gateways, on raw sockets: every call ends in time, costs a bounded
amount of memory, fails with a typed error and leaks nothing.

Each case runs against :class:`tests.hostile_server.HostileServer` (a loopback socket server, no
HTTP library on its side) through the sync hook, the async hook, the sensor's poke and the
trigger. The connection allows one retry and ``timeout=SCHEDULING_SLACK`` per attempt (a prompt
answer is never cut on a loaded machine); the slow-server cases set ``timeout=1`` s, so a
bounded call ends within about two seconds however the server behaves. Figures (time per case,
RSS growth) are written to ``.test-artifacts/hostile-networks.txt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
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
    VoiceTrainingConnectionError,
    VoiceTrainingError,
    VoiceTrainingResponseError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor
from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger
from tests import hostile_server as hostile
from tests.helpers import SCHEDULING_SLACK
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
BOUND = 2 * 1.0 + 0.5 + SCHEDULING_SLACK
FIGURES: list[str] = []


def connection(url: str, auth: str = "aksk", **extra: Any) -> str:
    fields: dict[str, Any] = {
        "project_id": "0123456789abcdef0123456789abcdef",
        "endpoint": url,
        "iam_endpoint": url,
        "timeout": SCHEDULING_SLACK,
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

    def start(
        behaviour: hostile.Behaviour, auth: str = "aksk", host: str = "127.0.0.1", **extra: Any
    ) -> HostileServer:
        server = HostileServer(behaviour, host).__enter__()
        started.append(server)
        monkeypatch.setenv("AIRFLOW_CONN_HOSTILE", connection(server.url, auth, **extra))
        return server

    yield start
    for server in started:
        server.stop()


class LogText:
    """Everything logged in a test: stdlib records (every logger at DEBUG, the HTTP libraries'
    included) and what Airflow's structlog loggers (tasks, triggers) wrote to stdout/stderr."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
        self.caplog = caplog
        self.capsys = capfd
        self.printed = ""

    def __call__(self) -> str:
        out, err = self.capsys.readouterr()
        self.printed += out + err
        return self.caplog.text + "\n" + self.printed

    def lines(self, *fragments: str) -> list[str]:
        """The logged lines holding every fragment, from the source that has most of them
        (Airflow 3.0 writes stdlib records to stdout as well: one record, two copies)."""
        self()
        sources = (self.caplog.text, self.printed)
        found = [
            [line for line in text.splitlines() if all(f in line for f in fragments)] for text in sources
        ]
        return max(found, key=len)


@pytest.fixture(autouse=True)
def every_log_line(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[LogText]:
    """Capture every logger at DEBUG (the HTTP libraries' included); no secret, whole or in
    part, may appear."""
    caplog.set_level(logging.DEBUG)
    for name in (
        "httpx",
        "httpcore",
        "httpcore.http11",
        "httpcore.connection",
        "airflow_provider_voicetraining",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    logs = LogText(caplog, capfd)
    yield logs
    text = logs()
    for secret in SECRETS:
        assert secret not in text, f"a credential reached the logs: {secret[:6]}..."
        for part in secret_parts(secret):
            assert part not in text, f"part of a credential reached the logs: {part[:4]}..."


def secret_parts(secret: str, size: int = 12) -> list[str]:
    """Every ``size``-character window of ``secret`` distinctive enough to be its trace (at
    least four different characters: a run of zeros is no one's secret)."""
    return [
        secret[i : i + size] for i in range(len(secret) - size + 1) if len(set(secret[i : i + size])) >= 4
    ]


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


def trigger_event(
    end_in: float = 2 * SCHEDULING_SLACK, tolerated: int = 0, shared: bool = True, job_id: str = JOB
) -> dict[str, Any]:
    async def go() -> list[dict[str, Any]]:
        trigger = VoiceTrainingJobTrigger(
            job_id=job_id,
            metastudio_conn_id="hostile",
            poll_interval=0.2,
            end_time=time.time() + end_in,
            max_consecutive_errors=tolerated,
            shared_polling=shared,
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
    server = serve(behaviour, timeout=1.0)
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
    assert elapsed <= 1.5 + 1.0 + SCHEDULING_SLACK  # end_time + one attempt's deadline + scheduling


# ------------------------------------------------------------------------------ memory
#: A measuring interpreter: it imports the hook once, then for each connection read on stdin
#: forks a child that makes one sync call while a thread samples the child's resident set every
#: 2 ms (``ru_maxrss`` would report the peak of the imports instead). Each child starts from
#: the same fresh state, as a new interpreter would, without paying Airflow's imports again.
_MEASURER = f"""
import json, os, signal, sys, threading
os.environ["AIRFLOW_CONN_WARMUP"] = {connection("http://127.0.0.1:9")!r}
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
VoiceTrainingHook("warmup").settings  # the first connection load imports a lot

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def measure(conn):
    os.environ["AIRFLOW_CONN_HOSTILE"] = conn
    hook = VoiceTrainingHook("hostile")
    hook.settings
    peak = base = rss()
    done = threading.Event()
    def sample():
        nonlocal peak
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
    return {{"growth_mb": (peak - base) / 1e6, "outcome": outcome}}

for line in sys.stdin:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        signal.alarm(120)
        try:
            result = measure(json.loads(line))
        except BaseException as exc:
            result = {{"error": repr(exc)}}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as answer:  # one line, marked: the child also logs to stdout
        print("MEASURED", answer.read() or json.dumps({{"error": "the measuring child died"}}), flush=True)
    os.waitpid(child, 0)
"""


@pytest.fixture(scope="module")
def peak_rss_growth() -> Iterator[Callable[[str], tuple[float, str]]]:
    """``peak_rss_growth(url)``: one sync call in a fresh process; its peak RSS growth (MB) and
    outcome."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    measurer = subprocess.Popen(
        [sys.executable, "-c", _MEASURER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert measurer.stdin is not None and measurer.stdout is not None

    def measure(url: str) -> tuple[float, str]:
        assert measurer.stdin is not None and measurer.stdout is not None
        measurer.stdin.write(json.dumps(connection(url)) + "\n")
        measurer.stdin.flush()
        for line in measurer.stdout:
            if line.startswith("MEASURED "):
                result = json.loads(line.removeprefix("MEASURED "))
                break
        else:
            result = {"error": "the measuring interpreter died"}
        assert "error" not in result, result
        return float(result["growth_mb"]), str(result["outcome"])

    yield measure
    measurer.stdin.close()
    measurer.wait(timeout=30)
    measurer.stdout.close()


@pytest.mark.parametrize(
    ("case", "behaviour"),
    [
        ("300 MB body", lambda: hostile.huge_body(300 * 1024 * 1024)),
        ("endless chunked body", lambda: hostile.endless_chunked),
        ("gzip bomb 1 MB -> 1 GiB", lambda: hostile.compressed(hostile.gzip_bomb(), "gzip")),
        ("double gzip from a few KB", lambda: hostile.compressed(hostile.double_gzip_bomb(), "gzip, gzip")),
    ],
)
def test_huge_endless_and_compressed_bodies_cost_one_capped_body(
    serve: Callable[..., HostileServer],
    peak_rss_growth: Callable[[str], tuple[float, str]],
    case: str,
    behaviour: Any,
) -> None:
    server = serve(behaviour())
    growth, outcome = peak_rss_growth(server.url)
    record(case, "sync hook (subprocess)", 0.0, f"RSS +{growth:.1f} MB; {outcome[:60]}")
    assert outcome.startswith("VoiceTrainingResponseError"), outcome
    assert "larger than the provider accepts" in outcome
    assert growth < 64, f"{case}: peak RSS grew {growth:.0f} MB"


def test_the_gzip_bombs_are_valid_gzip() -> None:
    """The bombs are built from a repeated segment (cheap): they must still be gzip a client
    reads to the end, CRC and size checked (shown on 8 MiB; the 1 GiB bomb differs only in
    the repeat count, its trailer and the CRC of more zeros)."""
    assert gzip.decompress(hostile._gzip_of_zeros(8 << 20)) == bytes(8 << 20)
    bomb = hostile.gzip_bomb()
    assert len(bomb) < 2 << 20 and int.from_bytes(bomb[-4:], "little") == 1 << 30
    assert gzip.decompress(hostile.double_gzip_bomb()) == bomb


@pytest.mark.parametrize("client", ["async hook", "trigger"])
def test_async_reads_of_huge_bodies_do_not_block_the_loop(serve, client: str) -> None:  # type: ignore[no-untyped-def]
    serve(hostile.compressed(hostile.gzip_bomb(), "gzip"))
    # CPU seconds the loop's thread spent between two turns of the ticker: decompressing
    # in one go would show as one long turn; time other processes take does not count
    lags: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.thread_time()
            await asyncio.sleep(0.01)
            lags.append(time.thread_time() - started)

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
    record("gzip bomb, loop lag", client, max(lags), f"max turn {max(lags) * 1000:.0f} CPU-ms")
    if client == "trigger":
        assert result["status"] == "error" and "larger than the provider accepts" in result["message"]
    else:
        assert isinstance(result, VoiceTrainingResponseError)
    assert max(lags) < 0.25, f"the event loop was blocked for {max(lags):.2f} CPU-s"


# ------------------------------------------------------------------------------ malformed bodies
DEEP = hostile.deep_json(100_000)
BAD_BODIES = {
    "deep JSON in a 200": (200, DEEP, VoiceTrainingResponseError, "nested deeper"),
    "1e999 as the job_id": (
        200,
        b'{"job_id": 1e999, "state": "WAITING"}',
        VoiceTrainingResponseError,
        "job_id",
    ),
    "a 5,000-digit state": (
        200,
        b'{"job_id": "hostile-job", "state": ' + b"9" * 5000 + b"}",
        VoiceTrainingResponseError,
        "no state",
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
    assert time.monotonic() - started <= 1.5 + SCHEDULING_SLACK


# ------------------------------------------------------------------ answers (issue 19, class 1)
# An answer must answer the question asked: the job asked for, its essential fields in their
# documented shape, each key once; a broken non-essential field never hides a good answer.
OTHER = "other-job-b"
ASSET_B = "asset-of-job-b"
HOSTS = ["127.0.0.1", "::1"]


def unique_job() -> str:
    """A job id of this test alone (warnings said once per job must not depend on test order)."""
    import uuid

    return f"job-{uuid.uuid4().hex}"


def ask(client: str, job_id: str) -> Any:
    """One look at ``job_id`` through the sync hook, the async hook or the sensor's poke."""
    if client == "sync hook":
        return VoiceTrainingHook("hostile").get_job(job_id)
    if client == "async hook":

        async def go() -> Any:
            async with VoiceTrainingHook("hostile") as hook:
                return await hook.aget_job(job_id)

        return asyncio.run(go())
    sensor = VoiceTrainingJobSensor(
        task_id="hostile_wait", job_id=job_id, metastudio_conn_id="hostile", max_consecutive_errors=0
    )
    return sensor.poke({"ti": _TI()})  # type: ignore[arg-type]


LOOKERS = ["sync hook", "async hook", "sensor poke"]
TRIGGERS = {"trigger (own polls)": False, "trigger (shared polling)": True}


def succeed(job_id: str, **fields: Any) -> bytes:
    return json.dumps(
        {"job_id": job_id, "state": "SUCCEED", "asset_id": f"asset-{job_id}", **fields}
    ).encode()


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("client", LOOKERS)
def test_an_answer_about_another_job_is_a_response_error(serve, client: str, host: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    serve(
        hostile.fixed(200, json.dumps({"job_id": OTHER, "state": "SUCCEED", "asset_id": ASSET_B}).encode()),
        host=host,
    )
    elapsed, error = failing(lambda: ask(client, job), VoiceTrainingResponseError)
    record("answer about another job", client, elapsed, type(error).__name__)
    assert job in str(error) and OTHER in str(error)
    assert ASSET_B not in str(error)


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_a_trigger_never_reports_another_jobs_success(serve, trigger: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    wrong = json.dumps({"job_id": OTHER, "state": "SUCCEED", "asset_id": ASSET_B}).encode()
    serve(hostile.job_service(wrong))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job, end_in=1.5)
    record("answer about another job", trigger, 0.0, event["status"])
    assert event["status"] in ("error", "timeout"), event
    assert ASSET_B not in json.dumps(event)


#: essential fields broken in every documented way (the rest of the answer is a good SUCCEED)
MISSHAPEN = {
    "asset_id object": {"asset_id": {"id": "a"}},
    "asset_id list": {"asset_id": ["a", "b"]},
    "asset_id true": {"asset_id": True},
    "asset_id number": {"asset_id": 12345},
    "asset_id path": {"asset_id": "../../etc/passwd"},
    "asset_id CR/LF": {"asset_id": "asset\r\nX-Injected: 1"},
    "asset_id 10 KB": {"asset_id": "a" * 10_000},
    "asset_id lone surrogate": {"asset_id": "asset-\ud800"},
    "asset_id trailing newline": {"asset_id": "asset-1\n"},
    "state object": {"state": {"name": "SUCCEED"}},
    "state number": {"state": 7},
    "state CR/LF": {"state": "SUCCEED\r\n"},
    "state 10 KB": {"state": "S" * 10_000},
    "app_user_id object": {"app_user_id": {"u": 1}},
    "app_user_id CR/LF": {"app_user_id": "user\r\nX-Injected: 1"},
    "app_user_id 10 KB": {"app_user_id": "u" * 10_000},
    "job_id number": {"job_id": 42},
}


@pytest.mark.parametrize("case", list(MISSHAPEN))
@pytest.mark.parametrize("client", LOOKERS)
def test_misshapen_essential_fields_are_response_errors(serve, client: str, case: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    body = {"job_id": job, "state": "SUCCEED", "asset_id": "asset-1", **MISSHAPEN[case]}
    serve(hostile.fixed(200, json.dumps(body).encode()))
    elapsed, error = failing(lambda: ask(client, job), VoiceTrainingResponseError)
    record(case, client, elapsed, type(error).__name__)
    message = str(error)
    assert "does not match the API" in message and len(message) <= 2000
    assert "\r" not in message and "\n" not in message and "X-Injected" not in message
    message.encode("utf-8")  # no lone surrogate


@pytest.mark.parametrize(
    "case", ["asset_id object", "asset_id lone surrogate", "asset_id CR/LF", "state object"]
)
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_misshapen_answers_end_a_trigger_in_an_error_never_a_success(serve, trigger: str, case: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    body = {"job_id": job, "state": "SUCCEED", "asset_id": "asset-1", **MISSHAPEN[case]}
    serve(hostile.job_service(json.dumps(body).encode()))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job, end_in=1.5)
    assert event["status"] in ("error", "timeout"), event
    json.dumps(event, ensure_ascii=False).encode("utf-8")  # the event stays encodable


#: the same key twice in one object: refused, never "the last one wins"
DUPLICATES = {
    "state twice": '{{"job_id": "{job}", "state": "SUCCEED", "asset_id": "a-1", "state": "FAILED"}}',
    "asset_id twice": '{{"job_id": "{job}", "state": "SUCCEED", "asset_id": "a-1", "asset_id": "a-2"}}',
    "another job_id, then ours": (
        '{{"job_id": "{other}", "job_id": "{job}", "state": "SUCCEED", "asset_id": "a-1"}}'
    ),
    "duplicate inside a nested object": (
        '{{"job_id": "{job}", "state": "SUCCEED", "asset_id": "a-1", '
        '"assess_result": {{"snr": 1, "snr": 2}}}}'
    ),
}


@pytest.mark.parametrize("case", list(DUPLICATES))
@pytest.mark.parametrize("client", LOOKERS)
def test_duplicate_keys_are_refused(serve, client: str, case: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    serve(hostile.fixed(200, hostile.raw_job(DUPLICATES[case].format(job=job, other=OTHER))))
    elapsed, error = failing(lambda: ask(client, job), VoiceTrainingResponseError)
    record(f"duplicate keys: {case}", client, elapsed, type(error).__name__)
    assert "appears twice" in str(error)


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_duplicate_keys_end_a_trigger_in_an_error(serve, trigger: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    serve(hostile.job_service(hostile.raw_job(DUPLICATES["state twice"].format(job=job))))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job, end_in=1.5)
    assert event["status"] in ("error", "timeout") and event["status"] != "success", event


#: non-essential fields broken in every way: the answer still holds; the raw value is kept
BROKEN_EXTRAS = {
    "create_time 1e999": ('"create_time": 1e999', "create_time", "1e999"),
    "lastupdate_time -1e999": ('"lastupdate_time": -1e999', "lastupdate_time", "-1e999"),
    "reject_times 5,000 digits": ('"reject_times": ' + "9" * 5000, "reject_times", "999"),
    "reject_times text": ('"reject_times": "often"', "reject_times", "often"),
    "voice_name object": ('"voice_name": {"a": 1}', "voice_name", '{"a": 1}'),
    "is_remake maybe": ('"is_remake": "maybe"', "is_remake", "maybe"),
    "allocated_resource list": ('"allocated_resource": [1, 2]', "allocated_resource", "[1, 2]"),
    "unknown field 1e999": ('"future_field": 1e999', "future_field", "1e999"),
    "nested 1e999": ('"assess_result": {"snr": {"actual": 1e999}}', "assess_result.snr.actual", "1e999"),
}


@pytest.mark.parametrize("case", list(BROKEN_EXTRAS))
@pytest.mark.parametrize("client", LOOKERS)
def test_a_broken_non_essential_field_never_hides_a_good_answer(
    serve, every_log_line, client: str, case: str
) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    fragment, name, raw = BROKEN_EXTRAS[case]
    body = f'{{"job_id": "{job}", "state": "SUCCEED", "asset_id": "asset-1", {fragment}}}'
    server = serve(hostile.fixed(200, hostile.raw_job(body)))
    for _ in range(2):  # the same answer twice: one warning
        result = ask(client, job)
    assert len(server.requests) == 2, "a good answer was retried"
    job_dict = result.xcom_value if client == "sensor poke" else result.to_dict()
    assert job_dict["asset_id"] == "asset-1" and job_dict["state"] == "SUCCEED"
    assert job_dict["unparsed"][name].startswith(raw), job_dict["unparsed"]
    json.dumps(job_dict)  # XCom-safe
    warnings = every_log_line.lines(job, "do not read")
    assert len(warnings) == 1 and name in warnings[0], warnings


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_a_broken_non_essential_field_lets_a_trigger_see_the_success(serve, trigger: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    body = f'{{"job_id": "{job}", "state": "SUCCEED", "asset_id": "asset-1", "create_time": 1e999}}'
    serve(hostile.job_service(hostile.raw_job(body)))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job)
    assert event["status"] == "success", event
    assert event["job"]["asset_id"] == "asset-1" and event["job"]["unparsed"] == {"create_time": "1e999"}


@pytest.mark.parametrize("state", [" FAILED", "succeed", "FAILED ", "NEW_STATE"])
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_an_unknown_state_keeps_a_trigger_waiting_and_warns_once(
    serve, every_log_line, trigger: str, state: str
) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    serve(hostile.job_service(json.dumps({"job_id": job, "state": state}).encode()))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job, end_in=3.0)  # polls until then
    assert event["status"] == "timeout", event
    warnings = every_log_line.lines(job, repr(state), "does not know")
    assert len(warnings) == 1, warnings


def test_an_unknown_state_keeps_a_sensor_poking_and_warns_once(serve, every_log_line) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    serve(hostile.fixed(200, json.dumps({"job_id": job, "state": "succeed"}).encode()))
    sensor = VoiceTrainingJobSensor(task_id="hostile_wait", job_id=job, metastudio_conn_id="hostile")
    assert [sensor.poke({"ti": _TI()}) for _ in range(3)] == [False, False, False]  # type: ignore[arg-type]
    warnings = every_log_line.lines(job, "'succeed'", "does not know")
    assert len(warnings) == 1, warnings


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_surrogates_and_control_characters_stay_out_of_events(serve, trigger: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    reason = "bad\ud800 audio\r\nX-Injected: 1\x1b[31m"
    body = {"job_id": job, "state": "FAILED", "job_failed_code": "MSS.1", "job_failed_reason": reason}
    serve(hostile.job_service(json.dumps(body).encode()))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job)
    assert event["status"] == "failed", event
    text = json.dumps(event, ensure_ascii=False)
    text.encode("utf-8")  # no lone surrogate
    assert "\r" not in event["message"] and "\n" not in event["message"] and "\x1b" not in text
    assert "\x1b" not in event["job"]["job_failed_reason"]


PRESIGNED = (
    "https://obs.example.com/data.zip?AccessKeyId=PRESIGNEDKEY01&Signature=c2lnbmF0dXJlMDAwMDAw&Expires=1"
)


@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_presigned_urls_of_a_job_never_reach_logs_or_events(serve, every_log_line, trigger: str) -> None:  # type: ignore[no-untyped-def]
    job = unique_job()
    body = succeed(
        job,
        training_input_source_url=PRESIGNED,
        voice_authorization_url=PRESIGNED,
        future_upload_url=PRESIGNED,
        allocated_resource={"resource_id": "r", "download_url": PRESIGNED},
    )
    serve(hostile.job_service(body))
    event = trigger_event(shared=TRIGGERS[trigger], job_id=job)
    assert event["status"] == "success", event
    for text in (json.dumps(event), every_log_line(), repr(VoiceTrainingHook("hostile").get_job(job))):
        assert "PRESIGNEDKEY01" not in text and "c2lnbmF0dXJl" not in text
    assert event["job"]["training_input_source_url"] == "https://obs.example.com/data.zip"


# ------------------------------------------------------------ configuration (issue 19, class 2)
def _pem_files(folder: Path) -> dict[str, Path]:
    """Files a careless ``verify`` may point to, none a CA bundle (the key made here)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    contents = {
        "text file": b"this is not a certificate\n",
        "empty file": b"",
        "truncated PEM": b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n",
        "private key": key_pem,
    }
    paths = {}
    for name, data in contents.items():
        path = folder / (name.replace(" ", "-") + ".pem")
        path.write_bytes(data)
        paths[name] = path
    return paths


NOT_CA_BUNDLES = ["text file", "empty file", "truncated PEM", "private key"]


@pytest.mark.parametrize("kind", NOT_CA_BUNDLES)
@pytest.mark.parametrize("client", LOOKERS)
def test_verify_that_is_not_a_ca_bundle_is_the_connections_error(  # type: ignore[no-untyped-def]
    serve, tmp_path: Path, client: str, kind: str
) -> None:
    bundle = _pem_files(tmp_path)[kind]
    server = serve(hostile.fixed(200, hostile.job_body()), verify=str(bundle))
    with pytest.raises(VoiceTrainingConnectionError) as info:
        ask(client, JOB)
    message = str(info.value)
    assert "field verify" in message and "not a CA bundle" in message and "Fix:" in message, message
    assert server.requests == []


@pytest.mark.parametrize("kind", ["text file", "private key"])
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_verify_that_is_not_a_ca_bundle_ends_a_trigger_at_once(  # type: ignore[no-untyped-def]
    serve, tmp_path: Path, trigger: str, kind: str
) -> None:
    bundle = _pem_files(tmp_path)[kind]
    serve(hostile.fixed(200, hostile.job_body()), verify=str(bundle))
    started = time.monotonic()
    event = trigger_event(shared=TRIGGERS[trigger], end_in=30, tolerated=5)
    assert time.monotonic() - started < 10, "a permanent connection error was polled until the deadline"
    assert event["status"] == "error" and "crashed" not in event["message"], event
    assert "verify" in event["message"] and "not a CA bundle" in event["message"]


def echo_in_headers(conn: hostile.Connection) -> None:
    """A good answer whose every header echoes a credential the request carried."""
    token = conn.header("X-Auth-Token") or conn.header("X-Security-Token") or "none"
    headers = {
        "Content-Type": "application/json",
        "X-Request-Id": token,
        "X-Debug-Authorization": conn.header("Authorization") or token,
        "X-Trace": f"tok={token};ak={conn.header('Authorization')[24:44]}",
    }
    conn.answer(200, hostile.job_body(), headers)


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("auth", ["aksk", "token", "temporary"])
@pytest.mark.parametrize("client", LOOKERS)
def test_credentials_echoed_in_any_response_header_reach_no_log(  # type: ignore[no-untyped-def]
    serve, every_log_line, client: str, auth: str, host: str
) -> None:
    serve(echo_in_headers, auth, host=host)
    ask(client, JOB)
    text = every_log_line()
    assert "receive_response_headers.complete" in text, "httpcore's DEBUG lines were not captured"
    # the scan of every secret, whole and in parts, runs when the test ends (every_log_line)
    assert "Signature=" not in text or "Signature=***" in text


#: credentials with hostile variations: refused at the door, and never echoed while refused
HOSTILE_CREDENTIALS = {
    "AK with a trailing newline": {"login": AK + "\n"},
    "AK with CR/LF": {"login": AK + "\r\n"},
    "AK with spaces around": {"login": f" {AK} "},
    "AK with a tab inside": {"login": AK[:10] + "\t" + AK[10:]},
    "SK with a trailing newline": {"password": SK + "\n"},
    "SK with a space inside": {"password": SK[:20] + " " + SK[20:]},
    "token with a trailing newline": {"password": TOKEN + "\n", "auth": "token"},
    "token in two parts": {"password": TOKEN[:33] + " " + TOKEN[33:], "auth": "token"},
    "security token with a newline": {"security_token": SECURITY_TOKEN + "\n"},
}


@pytest.mark.parametrize("case", list(HOSTILE_CREDENTIALS))
@pytest.mark.parametrize("client", LOOKERS)
def test_hostile_credential_variants_are_refused_and_never_shown(  # type: ignore[no-untyped-def]
    serve, monkeypatch: pytest.MonkeyPatch, client: str, case: str
) -> None:
    variant = dict(HOSTILE_CREDENTIALS[case])
    auth = variant.pop("auth", "temporary" if "security_token" in variant else "aksk")
    server = serve(hostile.echo_credentials, auth)
    conn = json.loads(connection(server.url, auth))
    if "security_token" in variant:
        conn["extra"]["security_token"] = variant["security_token"]
    else:
        conn.update(variant)
    monkeypatch.setenv("AIRFLOW_CONN_HOSTILE", json.dumps(conn))
    with pytest.raises(VoiceTrainingConnectionError) as info:
        ask(client, JOB)
    for text in (str(info.value), repr(info.value)):
        for secret in SECRETS:
            assert secret not in text
            assert not [p for p in secret_parts(secret) if p in text]
    assert server.requests == [], "a request went out with a malformed credential"


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
