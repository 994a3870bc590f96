"""The request flow's decision after each attempt, tested directly with scripted outcomes.

No server, no sockets: :func:`decide` is a pure function of the attempt's outcome and what the
call has spent, and :func:`call_flow` is driven by hand the way a transport drives it.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from airflow_provider_voicetraining._wire import endpoints as api
from airflow_provider_voicetraining._wire.exchange import (
    Headers,
    MintToken,
    Send,
    Sleep,
    TransportFailure,
    WireResponse,
)
from airflow_provider_voicetraining._wire.request_flow import call_flow
from airflow_provider_voicetraining._wire.retry import (
    MAX_RETRY_AFTER,
    Attempts,
    Done,
    Fail,
    RefreshToken,
    Retry,
    RetryPolicy,
    decide,
    parse_retry_after,
)
from airflow_provider_voicetraining._wire.secrets import Redactor, Secret
from airflow_provider_voicetraining._wire.settings import ConnectionSettings
from airflow_provider_voicetraining._wire.tokens import TOKENS, IssuedToken, cache_key
from airflow_provider_voicetraining.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingNotFoundError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)

JOB_ID = "26f06524-4f75-4b3a-a853-b649a21aaf66"
JOB = {"job_id": JOB_ID, "state": "PROCESSING"}


def settings(auth_type: str = "aksk", **changes: Any) -> ConnectionSettings:
    base: dict[str, Any] = {
        "conn_id": "unit",
        "auth_type": auth_type,
        "project_id": "0123456789abcdef0123456789abcdef",
        "region": "cn-north-4",
        "endpoint": "https://metastudio.cn-north-4.myhuaweicloud.com",
        "iam_endpoint": "https://iam.cn-north-4.myhuaweicloud.com",
    }
    if auth_type == "aksk":
        base.update(access_key=Secret("HPUAEXAMPLEAK0000001"), secret_key=Secret("unit-secret-key"))
    elif auth_type == "password":
        base.update(user_name="user", password=Secret("unit-password"), domain_name="domain")
    else:
        base.update(token=Secret("unit-ready-token"))
    base.update(changes)
    return ConnectionSettings(**base)


def response(status: int, body: Any = b"", **headers: str) -> WireResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WireResponse(status, Headers({"X-Request-Id": "rid-1", **headers}), raw)


POLICY = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=8.0, rng=random.Random(1))
SHOW = api.show_job(settings(), JOB_ID)
CREATE = api.create_job(settings(), "basic", voice_name="v")


def one(call: Any, outcome: Any, attempts: Attempts | None = None, auth: str = "aksk") -> Any:
    return decide(
        call, outcome, attempts or Attempts(), POLICY, settings(auth), Redactor(["unit-secret-key"])
    )


# --------------------------------------------------------------------------- back-off units
def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_retries=10, base_delay=1.0, max_delay=8.0, rng=random.Random(3))
    for n, ceiling in enumerate([1, 2, 4, 8, 8, 8]):
        samples = [policy.backoff(n) for _ in range(200)]
        assert min(samples) >= ceiling / 2 and max(samples) <= ceiling
        assert len({round(s, 6) for s in samples}) > 100  # jittered, not constant


def test_backoff_of_a_huge_retry_number_stays_capped() -> None:
    assert RetryPolicy(max_delay=8.0).backoff(10_000) <= 8.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("-4", 0.0),
        ("garbage", None),
        ("nan", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),
        ("Wed, 21 Oct 99999 07:28:00 GMT", None),
    ],
)
def test_retry_after_forms(header: str, expected: float | None) -> None:
    value = parse_retry_after(header, now=1445412480 - 10)
    assert value == (None if expected is None else pytest.approx(expected))


# --------------------------------------------------------------------------- decisions
def test_ok_answer_is_done_with_the_decoded_value() -> None:
    decision = one(SHOW, response(200, JOB))
    assert isinstance(decision, Done) and decision.value.state == "PROCESSING"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_a_read_is_retried_with_backoff(status: int) -> None:
    decision = one(SHOW, response(status, {"error_code": "X", "error_msg": "busy"}))
    assert isinstance(decision, Retry) and 0.5 <= decision.after <= 1.0
    assert f"HTTP {status}" in decision.reason


def test_5xx_on_create_is_not_retried_it_may_have_created_a_job() -> None:
    decision = one(CREATE, response(503, {"error_code": "X", "error_msg": "busy"}))
    assert isinstance(decision, Fail) and isinstance(decision.error, VoiceTrainingServerError)


def test_429_waits_at_least_retry_after_even_for_create() -> None:
    decision = one(CREATE, response(429, {"error_code": "APIGW.0308"}, **{"Retry-After": "7"}))
    assert isinstance(decision, Retry) and decision.after == 7.0


def test_429_with_a_retry_after_beyond_the_cap_is_reported() -> None:
    wait = str(int(MAX_RETRY_AFTER) + 1)
    decision = one(SHOW, response(429, {"error_code": "APIGW.0308"}, **{"Retry-After": wait}))
    assert isinstance(decision, Fail) and isinstance(decision.error, VoiceTrainingThrottledError)
    assert decision.error.retry_after == float(wait)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, VoiceTrainingAPIError),
        (401, VoiceTrainingAuthError),
        (403, VoiceTrainingAuthError),
        (404, VoiceTrainingNotFoundError),
        (409, VoiceTrainingAPIError),
    ],
)
def test_other_4xx_fail_at_once(status: int, cls: type[Exception]) -> None:
    decision = one(SHOW, response(status, {"error_code": "MSS.00000003", "error_msg": "bad"}))
    assert isinstance(decision, Fail) and type(decision.error) is cls
    assert decision.error.attempts == 1  # type: ignore[attr-defined]


def test_a_garbled_ok_body_is_retried_on_reads_and_reported_on_create() -> None:
    assert isinstance(one(SHOW, response(200, b"<html>")), Retry)
    decision = one(CREATE, response(200, b"<html>"))
    assert isinstance(decision, Fail) and isinstance(decision.error, VoiceTrainingResponseError)


def test_401_with_a_minted_token_refreshes_free_once_then_on_the_retry_budget() -> None:
    call = api.show_job(settings("password"), JOB_ID)
    denied = response(401, {"error_code": "APIG.0301", "error_msg": "token expired"})
    first = one(call, denied, Attempts(), "password")
    assert isinstance(first, RefreshToken) and not first.counts_as_retry and first.after == 0
    again = one(call, denied, Attempts(free_refreshes=1, refreshes=1), "password")
    assert isinstance(again, RefreshToken) and again.counts_as_retry and again.after > 0
    spent = Attempts(retries=POLICY.max_retries, free_refreshes=1, refreshes=1 + POLICY.max_retries)
    final = one(call, denied, spent, "password")
    assert isinstance(final, Fail) and isinstance(final.error, VoiceTrainingAuthError)
    assert final.error.attempts == POLICY.max_retries + 2


@pytest.mark.parametrize("auth", ["aksk", "token"])
def test_401_without_a_mintable_token_fails_with_a_hint(auth: str) -> None:
    call = api.show_job(settings(auth), JOB_ID)
    decision = one(call, response(401, {"error_code": "APIG.0301"}), auth=auth)
    assert isinstance(decision, Fail) and isinstance(decision.error, VoiceTrainingAuthError)
    assert "connection 'unit'" in str(decision.error)


@pytest.mark.parametrize(
    ("failure", "retried_for_create"),
    [
        (TransportFailure("connect", "refused", sent=False), True),
        (TransportFailure("connect_timeout", "slow", sent=False), True),
        (TransportFailure("read_timeout", "slow", sent=True), False),
        (TransportFailure("protocol", "reset", sent=True), False),
    ],
)
def test_transport_failures(failure: TransportFailure, retried_for_create: bool) -> None:
    assert isinstance(one(SHOW, failure), Retry)
    decision = one(CREATE, failure)
    assert isinstance(decision, Retry) is retried_for_create
    if not retried_for_create:
        assert isinstance(decision, Fail) and isinstance(decision.error, VoiceTrainingTransportError)
        assert "may have reached the service" in str(decision.error)


def test_certificate_failures_are_not_retried() -> None:
    failure = TransportFailure("tls", "[SSL: CERTIFICATE_VERIFY_FAILED] nope", sent=False)
    decision = one(SHOW, failure)
    assert isinstance(decision, Fail) and "CA bundle" in str(decision.error)


def test_the_budget_is_shared_by_every_cause_and_counted_honestly() -> None:
    spent = Attempts(retries=POLICY.max_retries)
    for outcome in (
        response(503),
        response(429, {"error_code": "APIGW.0308"}),
        TransportFailure("connect", "refused", sent=False),
        response(200, b"garbled"),
    ):
        decision = one(SHOW, outcome, spent)
        assert isinstance(decision, Fail)
        assert f"{POLICY.max_retries + 1} attempts" in str(decision.error)


def test_server_text_is_redacted_in_errors() -> None:
    decision = one(SHOW, response(400, {"error_code": "X", "error_msg": "sk unit-secret-key is wrong"}))
    assert isinstance(decision, Fail)
    assert "unit-secret-key" not in str(decision.error) and "***" in str(decision.error)


# --------------------------------------------------------------------------- the flow, driven by hand
def drive(flow: Any, outcomes: list[Any]) -> tuple[list[Any], Any]:
    """Feed ``outcomes`` to the flow's Send actions; return (actions, result or exception)."""
    actions: list[Any] = []
    feed: Any = None
    pending = list(outcomes)
    try:
        while True:
            action = flow.send(feed)
            actions.append(action)
            if isinstance(action, Send):
                feed = pending.pop(0)
            elif isinstance(action, MintToken):
                feed = Secret(f"minted-{len(actions)}")
            else:
                feed = None
    except StopIteration as stop:
        return actions, stop.value
    except Exception as exc:  # the flow raised its decision
        return actions, exc


def test_flow_sleeps_between_retries_and_returns_the_value() -> None:
    flow = call_flow(SHOW, settings(), POLICY, Redactor())
    actions, result = drive(flow, [response(503), response(200, JOB)])
    assert [type(a) for a in actions] == [Send, Sleep, Send]
    assert result.job_id == JOB_ID


def test_flow_mints_then_re_mints_once_on_401() -> None:
    conf = settings("password")
    TOKENS.clear()
    flow = call_flow(api.show_job(conf, JOB_ID), conf, POLICY, Redactor())
    denied = response(401, {"error_code": "APIG.0301"})
    actions, result = drive(flow, [denied, response(200, JOB)])
    assert [type(a) for a in actions] == [MintToken, Send, MintToken, Send]
    assert actions[3].request.headers["X-Auth-Token"] != actions[1].request.headers["X-Auth-Token"]
    assert result.state == "PROCESSING"


def test_flow_uses_a_cached_token_without_asking_the_transport() -> None:
    conf = settings("password")
    TOKENS.clear()
    TOKENS.store(cache_key(conf), IssuedToken(Secret("cached-token"), expires_at=9e9))
    actions, _ = drive(call_flow(api.show_job(conf, JOB_ID), conf, POLICY, Redactor()), [response(200, JOB)])
    assert [type(a) for a in actions] == [Send]
    assert actions[0].request.headers["X-Auth-Token"] == "cached-token"
    TOKENS.clear()


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def drive_timed(flow: Any, outcomes: list[Any], clock: Clock, step: float) -> tuple[list[Any], Any]:
    """Like :func:`drive`, the clock moving ``step`` seconds with each attempt and each sleep."""
    actions: list[Any] = []
    feed: Any = None
    try:
        while True:
            action = flow.send(feed)
            actions.append(action)
            clock.now += step if isinstance(action, Send) else getattr(action, "seconds", 0.0)
            feed = outcomes.pop(0) if isinstance(action, Send) else None
    except StopIteration as stop:
        return actions, stop.value
    except Exception as exc:
        return actions, exc


def test_flow_stamps_a_fresh_signature_date_on_every_attempt() -> None:
    clock = Clock(1_700_000_000.0)
    flow = call_flow(SHOW, settings(call_timeout=3600.0), POLICY, Redactor(), clock=clock)
    actions, _ = drive_timed(flow, [response(503), response(200, JOB)], clock, 899.0)
    dates = [a.request.headers["X-Sdk-Date"] for a in actions if isinstance(a, Send)]
    assert dates[0] == "20231114T221320Z" and dates[1] > "20231114T222800Z"


def test_each_attempt_gets_the_attempt_timeout_within_the_call_budget() -> None:
    clock = Clock(1_000.0)
    conf = settings(timeout=30.0, call_timeout=100.0)
    flow = call_flow(
        SHOW, conf, RetryPolicy(max_retries=9, base_delay=10, max_delay=10), Redactor(), clock=clock
    )
    actions, result = drive_timed(flow, [response(503)] * 10, clock, 30.0)
    sends = [a.request for a in actions if isinstance(a, Send)]
    assert sends[0].deadline == 1_030.0  # now + timeout
    assert all(r.deadline <= 1_100.0 for r in sends)  # never past the call's budget
    # 30 s per attempt plus 5-10 s back-off: the budget of 100 s allows three attempts
    assert len(sends) == 3 and isinstance(result, VoiceTrainingServerError)
    assert "time budget" in str(result) and "3 attempts" in str(result)


def test_a_callers_deadline_shortens_the_budget() -> None:
    clock = Clock(1_000.0)
    flow = call_flow(SHOW, settings(timeout=30.0), POLICY, Redactor(), clock=clock, deadline=1_012.0)
    actions, result = drive_timed(flow, [TransportFailure("read_timeout", "slow", sent=True)], clock, 12.0)
    assert [a.request.deadline for a in actions if isinstance(a, Send)] == [1_012.0]
    assert isinstance(result, VoiceTrainingTransportError) and "time budget" in str(result)
