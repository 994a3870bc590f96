"""What to do after each attempt of a call: a pure decision, tested without any server.

:func:`decide` takes what one attempt produced (an HTTP answer or a transport failure) and what
the call has spent so far, and returns :class:`Done`, :class:`Retry`, :class:`RefreshToken` or
:class:`Fail`; the request flow only carries it out. The rule (docs/hook.md, "Retries"): transient
failures are retried with back-off at most ``max_retries`` times per call, other 4xx never; a
call that is not idempotent (create) only when the request surely never reached the service or
was throttled; a refused IAM token is re-minted (the first time for free); certificate failures
are final.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from airflow_provider_voicetraining._wire.decoding import extract_error
from airflow_provider_voicetraining._wire.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingError,
    VoiceTrainingNotFoundError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)
from airflow_provider_voicetraining._wire.exchange import ApiCall, TransportFailure, WireResponse
from airflow_provider_voicetraining._wire.limits import MAX_REQUEST_ID, MAX_SERVER_CODE, MAX_SERVER_TEXT
from airflow_provider_voicetraining._wire.secrets import Redactor
from airflow_provider_voicetraining._wire.settings import (
    AUTH_AKSK,
    AUTH_PASSWORD,
    AUTH_TOKEN,
    ConnectionSettings,
)
from airflow_provider_voicetraining._wire.signing import MAX_CLOCK_SKEW

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

    @classmethod
    def for_connection(cls, settings: ConnectionSettings) -> RetryPolicy:
        """The policy of every call on ``settings`` (its ``max_retries`` and back-off)."""
        return cls(
            max_retries=settings.max_retries,
            base_delay=settings.retry_delay,
            max_delay=max(settings.retry_max_delay, settings.retry_delay),
            rng=random.Random(),
        )


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
    if not math.isfinite(seconds):  # NaN, inf
        return None
    return max(0.0, seconds)


@dataclass
class Attempts:
    """What a call has spent so far."""

    #: retries done (any cause)
    retries: int = 0
    #: seconds left of the call's time budget when the decision is taken
    time_left: float = math.inf
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
        retryable = (call.idempotent or not outcome.sent) and not outcome.permanent
        reason = f"{outcome.kind} ({redact.clip(outcome.message)})"
        return _retry_or_fail(
            retryable,
            policy.backoff(attempts.retries),
            reason,
            attempts,
            policy,
            lambda note: _transport_error(call, outcome, attempts, settings, redact, retryable, note),
        )
    status = outcome.status
    if status in call.ok_status:
        try:
            return Done(call.decode(outcome))
        except DECODE_ERRORS as exc:
            problem = redact.clip(f"{type(exc).__name__}: {exc}") or type(exc).__name__
            reason = f"unreadable response body ({problem}, X-Request-Id {outcome.request_id})"
            return _retry_or_fail(
                call.idempotent,
                policy.backoff(attempts.retries),
                reason,
                attempts,
                policy,
                lambda note: _response_error(call, outcome, attempts, redact, problem, note),
            )

    def fail(note: str) -> Fail:
        return Fail(error_from_response(call, settings, outcome, redact, attempts.made, note))

    if status == 401 and call.target == "service" and settings.auth_type == AUTH_PASSWORD:
        if attempts.refreshes == 0:
            return RefreshToken()
        after = policy.backoff(attempts.retries)
        if policy.can_retry(attempts.retries) and after < attempts.time_left:
            return RefreshToken(counts_as_retry=True, after=after)
    if status == 429:
        retry_after = parse_retry_after(outcome.headers.get_ci("Retry-After"))
        too_long = retry_after is not None and retry_after > MAX_RETRY_AFTER
        wait = max(policy.backoff(attempts.retries), retry_after or 0.0)
        reason = f"throttled (HTTP 429, X-Request-Id {outcome.request_id})"
        return _retry_or_fail(not too_long, wait, reason, attempts, policy, fail)
    if status >= 500:
        reason = f"HTTP {status} (X-Request-Id {outcome.request_id})"
        return _retry_or_fail(
            call.idempotent, policy.backoff(attempts.retries), reason, attempts, policy, fail
        )
    return fail("")


#: What decoding a body may raise; all mean "the body does not match the API".
DECODE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError, OverflowError)


def _retry_or_fail(
    retryable: bool,
    after: float,
    reason: str,
    attempts: Attempts,
    policy: RetryPolicy,
    fail: Callable[[str], Fail],
) -> Decision:
    """Retry after ``after`` seconds if allowed, budgeted and due before the call's time is up."""
    if not retryable or not policy.can_retry(attempts.retries):
        return fail("")
    if after >= attempts.time_left:
        return fail(
            f" (not retried: the call's time budget has {max(attempts.time_left, 0.0):.1f}s left "
            f"and the next attempt was due in {after:.1f}s)"
        )
    return Retry(after, reason)


def _transport_error(
    call: ApiCall[Any],
    outcome: TransportFailure,
    attempts: Attempts,
    settings: ConnectionSettings,
    redact: Redactor,
    retryable: bool,
    note: str,
) -> Fail:
    why = note
    if outcome.permanent:
        why = (
            " (not retried: the server certificate does not verify; "
            "set the connection's verify to its CA bundle)"
        )
    elif not retryable:
        why = " (not retried: the request may have reached the service)"
    where = settings.endpoint if call.target == "service" else "(upload/IAM host)"
    message = (
        f"MetaStudio {call.operation}: no answer from {call.method} {where}: "
        f"{outcome.kind}: {redact.clip(outcome.message)} after {_count(attempts.made)}{why}. "
        "Check network access to the endpoint, proxies and the connection's timeout/verify."
    )
    return Fail(
        VoiceTrainingTransportError(
            redact.final(message),
            operation=call.operation,
            attempts=attempts.made,
            may_have_reached=outcome.sent,
            permanent=outcome.permanent,
        )
    )


def _response_error(
    call: ApiCall[Any],
    outcome: WireResponse,
    attempts: Attempts,
    redact: Redactor,
    problem: str,
    note: str,
) -> Fail:
    message = (
        f"MetaStudio {call.operation} returned HTTP {outcome.status} with a body that does not match "
        f"the API ({problem}; X-Request-Id {outcome.request_id or '-'}, {_count(attempts.made)}){note}. "
        "The endpoint may not be MetaStudio (check the connection's endpoint) or a proxy altered the "
        "answer."
    )
    return Fail(
        VoiceTrainingResponseError(
            redact.final(message),
            operation=call.operation,
            request_id=redact.clip(outcome.request_id, MAX_REQUEST_ID),
            attempts=attempts.made,
        )
    )


def _count(attempts: int) -> str:
    return f"{attempts} attempt{'s' if attempts != 1 else ''}"


#: ``<Code>`` and ``<Message>`` of an OBS (upload host) XML error body.
_OBS_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
_OBS_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def _obs_error(text: str | None) -> tuple[str | None, str | None]:
    """``(Code, Message)`` of an OBS XML error body, or ``(None, None)``."""
    code = _OBS_CODE.search(text or "")
    if code is None:
        return None, None
    message = _OBS_MESSAGE.search(text or "")
    return code.group(1).strip(), (message.group(1).strip() if message else None)


def _redirect_hint(call: ApiCall[Any], settings: ConnectionSettings, location: str | None) -> str:
    where = f"to {location}" if location else "without a Location"
    if call.target == "absolute":
        return (
            f"It was a redirect ({where}), which uploads do not follow: the upload URL is not the "
            "storage host's; fetch fresh upload URLs with get_upload_urls and check any proxy."
        )
    return (
        f"It was a redirect ({where}), which the provider does not follow: check the endpoint of "
        f"{settings.described} ({settings.endpoint}: scheme https, the region's host, no path)."
    )


def _upload_hint(status: int, error_code: str | None, error_msg: str | None) -> str:
    """What to check after the upload host (a presigned URL) refused an upload."""
    code = (error_code or "").lower()
    msg = (error_msg or "").lower()
    if code == "requesttimetooskewed" or "skew" in msg:
        return (
            "The upload host says this machine's clock is too far off: synchronise the clock "
            "(NTP) and upload again."
        )
    if "expired" in msg or code == "expiredtoken":
        return (
            "The presigned upload URL expired: fetch fresh upload URLs with get_upload_urls and upload again."
        )
    if status in (401, 403):
        return (
            f"The upload host refused the presigned URL ({error_code or 'HTTP ' + str(status)}): fetch fresh "
            "upload URLs with get_upload_urls, and upload to them unchanged."
        )
    if status == 404:
        return "The upload target does not exist (the job was deleted?): check the job, then get_upload_urls."
    if status == 429 or status >= 500:
        return "The upload host is busy or failing; upload again later."
    return "The upload host rejected the file (error_msg says why): check its size and content type."


def _hint(
    call: ApiCall[Any],
    settings: ConnectionSettings,
    status: int,
    error_code: str | None,
    error_msg: str | None,
    location: str | None,
) -> str:
    """What to check for an error answer: each names the field or the call that fixes it."""
    msg = (error_msg or "").lower()
    conn = settings.described
    if 300 <= status < 400:
        return _redirect_hint(call, settings, location)
    if call.target == "absolute":
        return _upload_hint(status, error_code, error_msg)
    if status < 300:
        return (
            f"HTTP {status} is not an answer {call.operation} gives: check that the endpoint of {conn} "
            f"({settings.endpoint}) is MetaStudio and no proxy answers in its place."
        )
    if call.target == "iam" and status in (400, 401, 403):
        return (
            f"IAM refused to issue a token: check the IAM user (login), password and domain_name of {conn}, "
            "and that the user is not locked."
        )
    if status == 401:
        if "expired" in msg and settings.auth_type == AUTH_AKSK:
            return (
                "Check the clock of this machine: X-Sdk-Date must be within "
                f"{MAX_CLOCK_SKEW / 60:.0f} minutes of UTC."
            )
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
    return f"The service rejected the {call.operation} request's parameters: check the one error_msg names."


def _location(response: WireResponse, redact: Redactor) -> str | None:
    """A redirect's ``Location`` without its query (a presigned query is a credential), bounded."""
    location = response.headers.get_ci("Location")
    if not location:
        return None
    return redact.clip(location.split("?", 1)[0], MAX_SERVER_TEXT)


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
    note: str = "",
) -> VoiceTrainingAPIError:
    """The typed error for an error answer, with a hint what to check.

    Server text is bounded (``limits``) and redacted field by field, and the assembled message
    is redacted again, so no secret the server echoes (in ``error_msg``, ``error_code`` or
    ``X-Request-Id``; an ``Authorization`` header's ``Signature=``) reaches the error.
    """
    raw_code, raw_msg = extract_error(response.body)
    if call.target == "absolute" and raw_code is None:  # the upload host answers in OBS's XML
        obs_code, obs_msg = _obs_error(raw_msg)
        raw_code, raw_msg = obs_code or raw_code, obs_msg or raw_msg
    error_code = redact.clip(raw_code, MAX_SERVER_CODE)
    error_msg = redact.clip(raw_msg, MAX_SERVER_TEXT)
    request_id = redact.clip(response.request_id, MAX_REQUEST_ID)
    status = response.status
    cls = _ERROR_CLASSES.get(status) or (VoiceTrainingServerError if status >= 500 else VoiceTrainingAPIError)
    message = (
        f"MetaStudio {call.operation} failed: HTTP {status} {error_code or '-'} "
        f"{error_msg or '(no message)'!r} (X-Request-Id {request_id or '-'}, {_count(attempts)}){note}. "
        f"{_hint(call, settings, status, error_code, error_msg, _location(response, redact))}"
    )
    return cls(
        redact.final(message),
        operation=call.operation,
        status_code=status,
        error_code=error_code,
        error_msg=error_msg,
        request_id=request_id,
        attempts=attempts,
        retry_after=parse_retry_after(response.headers.get_ci("Retry-After")),
    )
