"""The request core: build, authenticate, send (via the driver), retry, decode.

:func:`call_flow` is a generator shared by the sync and async drivers (see
:mod:`.messages`). It holds every decision; the drivers only perform I/O.
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_voicetraining import __version__, signing
from airflow_provider_voicetraining.client.messages import (
    ApiCall,
    DropToken,
    Flow,
    GetToken,
    Send,
    Sleep,
    TransportFailure,
    WireRequest,
    WireResponse,
)
from airflow_provider_voicetraining.client.retry import (
    MAX_RETRY_AFTER,
    THROTTLE_RETRY_FACTOR,
    RetryPolicy,
    parse_retry_after,
)
from airflow_provider_voicetraining.connection import AUTH_AKSK, AUTH_PASSWORD, AUTH_TOKEN, ConnectionSettings
from airflow_provider_voicetraining.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingNotFoundError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)
from airflow_provider_voicetraining.secret import Redactor, Secret

log = logging.getLogger("airflow_provider_voicetraining.client")

T = TypeVar("T")

USER_AGENT = (
    f"airflow-provider-voicetraining/{__version__} (python/{platform.python_version()}; {sys.platform})"
)


def build_request(
    call: ApiCall[Any],
    settings: ConnectionSettings,
    token: Secret | None,
    now: float | None = None,
) -> WireRequest:
    """Turn a call into bytes-on-the-wire headers and URL, signing if the connection uses AK/SK.

    A fresh ``X-Sdk-Date`` is stamped on every attempt, so a retry after a long back-off is
    not rejected as expired.
    """
    headers: dict[str, str] = {"Content-Type": call.content_type, "User-Agent": USER_AGENT}
    headers.update(call.extra_headers)
    if call.target == "absolute":
        url = call.path
        display = f"{call.method} {url.split('?', 1)[0]}"
        return WireRequest(call.method, url, headers, call.body, settings.timeout, display)

    base = settings.iam_endpoint if call.target == "iam" else settings.endpoint
    host = base.split("://", 1)[1]
    query = signing.canonical_query(call.query)
    url = f"{base}{call.path}?{query}" if query else f"{base}{call.path}"
    display = f"{call.method} {call.path}"
    headers["Host"] = host
    if call.target == "iam":
        return WireRequest(call.method, url, headers, call.body, settings.timeout, display)

    app_user_id = call.app_user_id or settings.app_user_id
    if app_user_id:
        headers["X-App-UserId"] = app_user_id
    if settings.auth_type == AUTH_AKSK:
        assert settings.access_key is not None and settings.secret_key is not None
        headers["X-Project-Id"] = settings.project_id
        if settings.security_token is not None:
            headers["X-Security-Token"] = settings.security_token.reveal()
        headers[signing.HEADER_DATE] = signing.format_sdk_date(now)
        body = call.body if isinstance(call.body, bytes) else None
        headers = signing.sign(
            method=call.method,
            path=call.path,
            query=query,
            headers=headers,
            body=body,
            host=host,
            access_key=settings.access_key.reveal(),
            secret_key=settings.secret_key.reveal(),
        )
    else:
        assert token is not None
        headers["X-Auth-Token"] = token.reveal()
    return WireRequest(call.method, url, headers, call.body, settings.timeout, display)


def extract_error(body: bytes) -> tuple[str | None, str | None]:
    """``(error_code, error_msg)`` the way the official SDK reads them: ``error_code/error_msg``,
    ``errorCode/errorMsg``, ``code/message``, or one nested object holding one of those pairs."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return None, (text[:300] or None)
    if not isinstance(data, dict):
        return None, None
    candidates = [data] + [v for v in data.values() if isinstance(v, dict)]
    for item in candidates:
        for code_key, msg_key in (
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ):
            if code_key in item or msg_key in item:
                code = item.get(code_key)
                msg = item.get(msg_key)
                return (None if code is None else str(code)), (None if msg is None else str(msg))
    return None, None


def _hint(settings: ConnectionSettings, status: int, error_code: str | None, error_msg: str | None) -> str:
    msg = (error_msg or "").lower()
    conn = f"connection {settings.conn_id!r}"
    if status == 401:
        if "expired" in msg and settings.auth_type == AUTH_AKSK:
            return "Check the clock of this machine: X-Sdk-Date must be within 15 minutes of UTC."
        if "forbidden" in msg or "limit" in msg:
            return (
                "The AK is locked for 5 minutes after repeated failures; fix the SK in "
                f"{conn} and wait before retrying."
            )
        if settings.auth_type == AUTH_AKSK:
            return f"Check the AK (login) and SK (password) of {conn}, and the machine clock."
        if settings.auth_type == AUTH_TOKEN:
            return (
                f"The token in {conn} is invalid or expired (tokens last 24 h); store a new one, "
                "or use auth_type=password to have the hook mint tokens."
            )
        return f"Check the IAM user, password and domain_name of {conn}."
    if status == 403:
        return (
            f"The credentials of {conn} authenticate but lack permission: grant MetaStudio access "
            f"to the IAM user for project {settings.project_id}."
        )
    if status == 404:
        return (
            f"Check that the job exists in project {settings.project_id} and, if it was created "
            "with an X-App-UserId, that the same app_user_id is passed."
        )
    if status == 429:
        return "The service throttled the calls: lower parallelism or lengthen poll intervals."
    if status >= 500:
        return "A MetaStudio service error; if it persists, quote the X-Request-Id to Huawei support."
    return "The service rejected the request parameters; error_msg says which."


def error_from_response(
    call: ApiCall[Any],
    settings: ConnectionSettings,
    response: WireResponse,
    redact: Redactor,
    attempts: int,
) -> VoiceTrainingAPIError:
    error_code, error_msg = extract_error(response.body)
    error_msg = redact(error_msg)
    request_id = response.request_id
    status = response.status
    cls: type[VoiceTrainingAPIError]
    if status in (401, 403):
        cls = VoiceTrainingAuthError
    elif status == 404:
        cls = VoiceTrainingNotFoundError
    elif status == 429:
        cls = VoiceTrainingThrottledError
    elif status >= 500:
        cls = VoiceTrainingServerError
    else:
        cls = VoiceTrainingAPIError
    plural = "s" if attempts != 1 else ""
    message = (
        f"MetaStudio {call.operation} failed: HTTP {status} {error_code or '-'} "
        f"{error_msg or '(no message)'!r} (X-Request-Id {request_id or '-'}, {attempts} attempt{plural}). "
        f"{_hint(settings, status, error_code, error_msg)}"
    )
    return cls(
        message,
        operation=call.operation,
        status_code=status,
        error_code=error_code,
        error_msg=error_msg,
        request_id=request_id,
        attempts=attempts,
        retry_after=parse_retry_after(response.headers.get_ci("Retry-After")),
    )


def decode_json(response: WireResponse) -> dict[str, Any]:
    """A JSON object body, or ``{}`` for the documented empty 200s (commit, delete)."""
    if not response.body.strip():
        return {}
    data = json.loads(response.body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _back_off(call: ApiCall[Any], policy: RetryPolicy, retries: int, reason: str) -> Flow[None]:
    """Log why and sleep before retry ``retries + 1`` (exponential back-off with jitter)."""
    wait = policy.backoff(retries)
    log.warning(
        "MetaStudio %s: %s; retry %d/%d in %.1fs",
        call.operation,
        reason,
        retries + 1,
        policy.max_retries,
        wait,
    )
    yield Sleep(wait)


def call_flow(
    call: ApiCall[T],
    settings: ConnectionSettings,
    policy: RetryPolicy,
    redact: Redactor,
    clock: Callable[[], float] = time.time,
) -> Flow[T]:
    """Perform ``call`` with auth, retries and decoding; yields actions, returns the decoded value."""
    retries = 0  # retries spent on failures (connection, 5xx, garbled bodies, repeated 401)
    throttled = 0  # retries spent waiting out 429s
    token_refreshed = False
    needs_token = call.target == "service" and settings.auth_type in (AUTH_PASSWORD, AUTH_TOKEN)
    while True:
        token: Secret | None = None
        if needs_token:
            token = settings.token if settings.auth_type == AUTH_TOKEN else (yield GetToken())
        request = build_request(call, settings, token, clock())
        outcome = yield Send(request)
        attempts = retries + throttled + 1

        if isinstance(outcome, TransportFailure):
            retryable = (call.idempotent or not outcome.sent) and not outcome.permanent
            if retryable and policy.can_retry(retries):
                yield from _back_off(call, policy, retries, f"{outcome.kind} ({redact(outcome.message)})")
                retries += 1
                continue
            why = ""
            if outcome.permanent:
                why = (
                    " (not retried: the server certificate does not verify; "
                    "set the connection's verify to its CA bundle)"
                )
            elif not retryable:
                why = " (not retried: the request may have reached the service)"
            raise VoiceTrainingTransportError(
                f"MetaStudio {call.operation}: no answer from {request.display.split(' ', 1)[0]} "
                f"{settings.endpoint if call.target == 'service' else '(upload/IAM host)'}: "
                f"{outcome.kind}: {redact(outcome.message)} after {attempts} attempt(s){why}. "
                "Check network access to the endpoint, proxies and the connection's timeout/verify.",
                operation=call.operation,
                attempts=attempts,
                may_have_reached=outcome.sent,
            )

        assert isinstance(outcome, WireResponse)
        status = outcome.status
        if status in call.ok_status:
            try:
                return call.decode(outcome)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                if call.idempotent and policy.can_retry(retries):
                    reason = f"unreadable response body ({exc}, X-Request-Id {outcome.request_id})"
                    yield from _back_off(call, policy, retries, reason)
                    retries += 1
                    continue
                raise VoiceTrainingResponseError(
                    f"MetaStudio {call.operation} returned HTTP {status} with a body that does not match "
                    f"the API ({redact(str(exc))}; X-Request-Id {outcome.request_id or '-'}, "
                    f"{attempts} attempt(s)). The endpoint may not be MetaStudio (check the connection's "
                    "endpoint) or a proxy altered the answer.",
                    operation=call.operation,
                    request_id=outcome.request_id,
                    attempts=attempts,
                ) from None

        # The first refresh is free; a token rejected again (it expired again, or was revoked
        # while others refreshed) costs a retry, so a real auth failure still ends quickly.
        refresh = not token_refreshed or policy.can_retry(retries)
        if status == 401 and settings.auth_type == AUTH_PASSWORD and needs_token and refresh:
            assert token is not None
            log.info("MetaStudio %s: token rejected (HTTP 401); minting a new one", call.operation)
            yield DropToken(token)
            if token_refreshed:
                yield from _back_off(call, policy, retries, "the new token was rejected too")
                retries += 1
            token_refreshed = True
            continue

        if status == 429:
            # Throttling is the service asking us to come back later, not a failure: it has
            # its own, larger budget, so a burst of 429s does not use up the retries that
            # protect against real errors.
            retry_after = parse_retry_after(outcome.headers.get_ci("Retry-After"))
            too_long = retry_after is not None and retry_after > MAX_RETRY_AFTER
            if not too_long and throttled < THROTTLE_RETRY_FACTOR * policy.max_retries:
                wait = policy.delay(throttled, retry_after)
                log.warning(
                    "MetaStudio %s: throttled (HTTP 429, X-Request-Id %s); retry in %.1fs",
                    call.operation,
                    outcome.request_id,
                    wait,
                )
                throttled += 1
                yield Sleep(wait)
                continue
        elif status >= 500 and call.idempotent and policy.can_retry(retries):
            yield from _back_off(call, policy, retries, f"HTTP {status} (X-Request-Id {outcome.request_id})")
            retries += 1
            continue
        raise error_from_response(call, settings, outcome, redact, attempts)
