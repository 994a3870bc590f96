"""What to do after each attempt of a call: a pure decision, tested without any server.

:func:`decide` takes what one attempt produced (an HTTP answer or a transport failure) and what
the call has spent so far, and returns one of :class:`Done` (the decoded value),
:class:`Retry` (after so many seconds), :class:`RefreshToken` (mint a new IAM token, then try
again) or :class:`Fail` (raise this error). The request flow (:mod:`.request_flow`) only carries
the decision out.

The rule, as the README states it:

* **retried**: connection errors, timeouts, 429 (waiting at least ``Retry-After``), 5xx and
  garbled 2xx bodies, with exponential back-off and jitter, at most ``max_retries`` times per
  call whatever the cause. Never other 4xx: repeating a rejected request cannot make it valid;
* **calls that are not idempotent** (create) are retried only when the request surely never
  reached the service (refused connection, connect timeout) or was throttled (429 means "not
  processed");
* **a refused token** (401 with ``auth_type=password``) is dropped and a new one minted. The first
  re-mint of a call is free; each further one (the new token was refused too: revoked, or
  expired again while a thousand calls shared it) counts as a retry and waits the back-off, so a
  token that keeps being refused ends the call after ``max_retries``;
* **certificate failures** are not retried: they fail the same way every time.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_voicetraining.wire.decoding import extract_error
from airflow_provider_voicetraining.wire.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingError,
    VoiceTrainingNotFoundError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)
from airflow_provider_voicetraining.wire.exchange import ApiCall, TransportFailure, WireResponse
from airflow_provider_voicetraining.wire.secrets import Redactor
from airflow_provider_voicetraining.wire.settings import (
    AUTH_AKSK,
    AUTH_PASSWORD,
    AUTH_TOKEN,
    ConnectionSettings,
)

T = TypeVar("T")

#: Never wait longer than this for a ``Retry-After``; beyond it, give up and report it.
MAX_RETRY_AFTER = 120.0


@dataclass
class RetryPolicy:
    """Bounded exponential back-off with "equal jitter".

    :param max_retries: retries per call, whatever the cause.
    :param base_delay: the first back-off ceiling in seconds; it doubles per retry.
    :param max_delay: the largest back-off ceiling.
    :param rng: source of jitter (tests pass a seeded one).
    """

    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (0-based): half fixed, half random, so a thousand
        clients that failed together do not return together."""
        ceiling = min(self.max_delay, self.base_delay * float(2 ** min(retry_number, 32)))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def can_retry(self, retries_done: int) -> bool:
        return retries_done < self.max_retries


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


@dataclass
class Attempts:
    """What a call has spent so far."""

    #: retries done (any cause)
    retries: int = 0
    #: tokens re-minted after a 401 without counting as a retry (the first one)
    free_refreshes: int = 0
    #: tokens re-minted after a 401 in all
    refreshes: int = 0

    @property
    def made(self) -> int:
        """Attempts sent so far, the current one included."""
        return self.retries + self.free_refreshes + 1


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True)
class Retry:
    after: float
    reason: str


@dataclass(frozen=True)
class RefreshToken:
    """Forget the token the attempt used and mint a new one before the next attempt; a refresh
    that is not the call's first counts as a retry and waits ``after`` seconds first."""

    counts_as_retry: bool = False
    after: float = 0.0


@dataclass(frozen=True)
class Fail:
    error: VoiceTrainingError


Decision = Done[Any] | Retry | RefreshToken | Fail


def decide(
    call: ApiCall[T],
    outcome: WireResponse | TransportFailure,
    attempts: Attempts,
    policy: RetryPolicy,
    settings: ConnectionSettings,
    redact: Redactor,
) -> Decision:
    """The decision after one attempt (see the module docstring for the rule)."""
    if isinstance(outcome, TransportFailure):
        return _after_transport_failure(call, outcome, attempts, policy, settings, redact)
    status = outcome.status
    if status in call.ok_status:
        try:
            return Done(call.decode(outcome))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            reason = f"unreadable response body ({redact(str(exc))}, X-Request-Id {outcome.request_id})"
            if call.idempotent and policy.can_retry(attempts.retries):
                return Retry(policy.backoff(attempts.retries), reason)
            return Fail(
                VoiceTrainingResponseError(
                    f"MetaStudio {call.operation} returned HTTP {status} with a body that does not match "
                    f"the API ({redact(str(exc))}; X-Request-Id {outcome.request_id or '-'}, "
                    f"{_count(attempts.made)}). The endpoint may not be MetaStudio (check the "
                    "connection's endpoint) or a proxy altered the answer.",
                    operation=call.operation,
                    request_id=outcome.request_id,
                    attempts=attempts.made,
                )
            )
    if status == 401 and call.target == "service" and settings.auth_type == AUTH_PASSWORD:
        if attempts.refreshes == 0:
            return RefreshToken()
        if policy.can_retry(attempts.retries):
            return RefreshToken(counts_as_retry=True, after=policy.backoff(attempts.retries))
    if status == 429:
        retry_after = parse_retry_after(outcome.headers.get_ci("Retry-After"))
        too_long = retry_after is not None and retry_after > MAX_RETRY_AFTER
        if not too_long and policy.can_retry(attempts.retries):
            wait = max(policy.backoff(attempts.retries), retry_after or 0.0)
            return Retry(wait, f"throttled (HTTP 429, X-Request-Id {outcome.request_id})")
    elif status >= 500 and call.idempotent and policy.can_retry(attempts.retries):
        return Retry(policy.backoff(attempts.retries), f"HTTP {status} (X-Request-Id {outcome.request_id})")
    return Fail(error_from_response(call, settings, outcome, redact, attempts.made))


def _after_transport_failure(
    call: ApiCall[Any],
    outcome: TransportFailure,
    attempts: Attempts,
    policy: RetryPolicy,
    settings: ConnectionSettings,
    redact: Redactor,
) -> Decision:
    retryable = (call.idempotent or not outcome.sent) and not outcome.permanent
    if retryable and policy.can_retry(attempts.retries):
        return Retry(policy.backoff(attempts.retries), f"{outcome.kind} ({redact(outcome.message)})")
    why = ""
    if outcome.permanent:
        why = (
            " (not retried: the server certificate does not verify; "
            "set the connection's verify to its CA bundle)"
        )
    elif not retryable:
        why = " (not retried: the request may have reached the service)"
    where = settings.endpoint if call.target == "service" else "(upload/IAM host)"
    return Fail(
        VoiceTrainingTransportError(
            f"MetaStudio {call.operation}: no answer from {call.method} {where}: "
            f"{outcome.kind}: {redact(outcome.message)} after {_count(attempts.made)}{why}. "
            "Check network access to the endpoint, proxies and the connection's timeout/verify.",
            operation=call.operation,
            attempts=attempts.made,
            may_have_reached=outcome.sent,
        )
    )


def _count(attempts: int) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''}"


def _hint(settings: ConnectionSettings, status: int, error_msg: str | None) -> str:
    msg = (error_msg or "").lower()
    conn = settings.described
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


_ERROR_CLASSES: dict[int, type[VoiceTrainingAPIError]] = {
    401: VoiceTrainingAuthError,
    403: VoiceTrainingAuthError,
    404: VoiceTrainingNotFoundError,
    429: VoiceTrainingThrottledError,
}


def error_from_response(
    call: ApiCall[Any],
    settings: ConnectionSettings,
    response: WireResponse,
    redact: Redactor,
    attempts: int,
) -> VoiceTrainingAPIError:
    """The typed error for an error answer, its server text redacted, with a hint what to check."""
    error_code, error_msg = extract_error(response.body)
    error_msg = redact(error_msg)
    request_id = response.request_id
    status = response.status
    cls = _ERROR_CLASSES.get(status) or (VoiceTrainingServerError if status >= 500 else VoiceTrainingAPIError)
    message = (
        f"MetaStudio {call.operation} failed: HTTP {status} {error_code or '-'} "
        f"{error_msg or '(no message)'!r} (X-Request-Id {request_id or '-'}, {_count(attempts)}). "
        f"{_hint(settings, status, error_msg)}"
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
