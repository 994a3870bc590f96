"""The request flow: build and authenticate each attempt, hand it to the transport, act on
:func:`~.retry.decide`.

:func:`call_flow` is a generator (see :mod:`.exchange`): it yields actions (send, sleep, get a
token) and receives their outcomes. The whole call stays within its time budget
(``call_timeout``, or the caller's deadline if sooner), each attempt within ``timeout``.
"""

from __future__ import annotations

import logging
import math
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_voicetraining._wire import signing
from airflow_provider_voicetraining._wire.bodies import ACCEPT_ENCODING
from airflow_provider_voicetraining._wire.errors import VoiceTrainingThrottledError
from airflow_provider_voicetraining._wire.exchange import (
    ApiCall,
    FileBody,
    Flow,
    MintToken,
    Send,
    Sleep,
    WireRequest,
)
from airflow_provider_voicetraining._wire.limits import MIN_UPLOAD_RATE
from airflow_provider_voicetraining._wire.rate_limits import RATE_LIMITER
from airflow_provider_voicetraining._wire.retry import (
    Attempts,
    Done,
    Fail,
    RefreshToken,
    Retry,
    RetryPolicy,
    decide,
)
from airflow_provider_voicetraining._wire.secrets import Redactor, Secret
from airflow_provider_voicetraining._wire.settings import (
    AUTH_AKSK,
    AUTH_PASSWORD,
    AUTH_TOKEN,
    ConnectionSettings,
)
from airflow_provider_voicetraining._wire.tokens import TOKENS, cache_key
from airflow_provider_voicetraining._wire.version import __version__

log = logging.getLogger("airflow_provider_voicetraining._wire")

T = TypeVar("T")

USER_AGENT = (
    f"airflow-provider-voicetraining/{__version__} (python/{platform.python_version()}; {sys.platform})"
)


def attempt_timeout(call: ApiCall[Any], settings: ConnectionSettings) -> float:
    """Seconds one attempt may take, connect to last body byte: ``timeout``, plus the time a
    file upload needs at :data:`~.limits.MIN_UPLOAD_RATE`."""
    if isinstance(call.body, FileBody):
        return settings.timeout + call.body.size / MIN_UPLOAD_RATE
    return settings.timeout


def build_request(
    call: ApiCall[Any],
    settings: ConnectionSettings,
    token: Secret | None,
    now: float,
    deadline: float,
) -> WireRequest:
    """Turn a call into bytes-on-the-wire headers and URL, signing if the connection uses AK/SK.

    A fresh ``X-Sdk-Date`` is stamped on every attempt, so a retry after a long back-off is
    not rejected as expired.
    """
    headers: dict[str, str] = {
        "Content-Type": call.content_type,
        "User-Agent": USER_AGENT,
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    headers.update(call.extra_headers)
    if isinstance(call.body, FileBody):
        headers["Content-Length"] = str(call.body.size)
    if call.target == "absolute":
        url = call.path
        display = f"{call.method} {url.split('?', 1)[0]}"
    else:
        base = settings.iam_endpoint if call.target == "iam" else settings.endpoint
        host = base.split("://", 1)[1]
        query = signing.canonical_query(call.query)
        url = f"{base}{call.path}?{query}" if query else f"{base}{call.path}"
        display = f"{call.method} {call.path}"
        headers["Host"] = host
        if call.target == "service":
            headers = _authenticate(call, settings, token, headers, query, host, now)
    return WireRequest(call.method, url, headers, call.body, deadline, call.max_body, display)


def _authenticate(
    call: ApiCall[Any],
    settings: ConnectionSettings,
    token: Secret | None,
    headers: dict[str, str],
    query: str,
    host: str,
    now: float,
) -> dict[str, str]:
    app_user_id = call.app_user_id or settings.app_user_id
    if app_user_id:
        headers["X-App-UserId"] = app_user_id
    if settings.auth_type != AUTH_AKSK:
        assert token is not None
        headers["X-Auth-Token"] = token.reveal()
        return headers
    assert settings.access_key is not None and settings.secret_key is not None
    headers["X-Project-Id"] = settings.project_id
    if settings.security_token is not None:
        headers["X-Security-Token"] = settings.security_token.reveal()
    headers[signing.HEADER_DATE] = signing.format_sdk_date(now)
    return signing.sign(
        method=call.method,
        path=call.path,
        query=query,
        headers=headers,
        body=call.body if isinstance(call.body, bytes) else None,
        host=host,
        access_key=settings.access_key.reveal(),
        secret_key=settings.secret_key.reveal(),
    )


def call_flow(
    call: ApiCall[T],
    settings: ConnectionSettings,
    policy: RetryPolicy,
    redact: Redactor,
    clock: Callable[[], float] = time.time,
    deadline: float | None = None,
) -> Flow[T]:
    """Perform ``call`` with auth and retries within its time budget; yields actions, returns
    the decoded value.

    The budget ends at ``call_timeout`` after the start, or at ``deadline`` (a wall-clock
    epoch, e.g. a trigger's end time) if that is sooner. Each attempt must finish within
    ``timeout`` and the budget; no retry starts that could not.
    """
    attempts = Attempts()
    started = clock()
    call_deadline = min(started + settings.call_timeout, math.inf if deadline is None else deadline)
    service = call.target == "service"
    minted = service and settings.auth_type == AUTH_PASSWORD
    key = cache_key(settings) if minted else ""
    while True:
        token: Secret | None = settings.token if service and settings.auth_type == AUTH_TOKEN else None
        if minted:
            token = TOKENS.valid(key) or (yield MintToken())
        if service:
            rate = settings.query_rate if call.method == "GET" else settings.write_rate
            slot = RATE_LIMITER.reserve(
                settings.tenant, call.operation, rate, max_wait=call_deadline - clock()
            )
            if slot is None:  # nothing reserved: a refused call holds no slot
                raise VoiceTrainingThrottledError(
                    f"MetaStudio {call.operation}: the client-side rate limit ({rate:g}/s for "
                    f"{call.operation} of this tenant, in this process) has no slot before the "
                    "call's deadline. Lower parallelism, lengthen poll intervals, or raise "
                    "call_timeout (or the connection's rate_limit_queries/rate_limit_writes if your "
                    "quota is higher).",
                    operation=call.operation,
                    status_code=429,
                    error_code=None,
                    error_msg=None,
                    request_id=None,
                    attempts=attempts.made - 1,
                )
            if slot.wait > 0:
                try:
                    yield Sleep(slot.wait)
                except BaseException:  # cancelled (or closed) while queued: the slot goes back
                    RATE_LIMITER.release(slot)
                    raise
        now = clock()
        attempt_deadline = min(now + attempt_timeout(call, settings), call_deadline)
        outcome = yield Send(build_request(call, settings, token, now, attempt_deadline))
        attempts.time_left = call_deadline - clock()
        decision = decide(call, outcome, attempts, policy, settings, redact)
        if isinstance(decision, Done):
            return decision.value  # type: ignore[no-any-return]
        if isinstance(decision, Fail):
            raise decision.error
        if isinstance(decision, RefreshToken):
            assert token is not None
            log.info("MetaStudio %s: token rejected (HTTP 401); minting a new one", call.operation)
            TOKENS.drop(key, token)
            attempts.refreshes += 1
            if decision.counts_as_retry:
                attempts.retries += 1
                yield Sleep(decision.after)
            else:
                attempts.free_refreshes += 1
            continue
        assert isinstance(decision, Retry)
        attempts.retries += 1
        log.warning(
            "MetaStudio %s: %s; retry %d/%d in %.1fs",
            call.operation,
            redact.final(decision.reason),
            attempts.retries,
            policy.max_retries,
            decision.after,
        )
        yield Sleep(decision.after)
