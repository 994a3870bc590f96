"""The request flow: build and authenticate each attempt, hand it to a transport, act on
:func:`~.retry.decide`.

:func:`call_flow` is a generator shared by the sync and async transports (see :mod:`.exchange`):
it yields actions (send, sleep, get or drop a token) and receives their outcomes, so building,
signing, retrying and decoding exist once for both paths; the transports only perform I/O.
"""

from __future__ import annotations

import logging
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_voicetraining import __version__
from airflow_provider_voicetraining.wire import signing
from airflow_provider_voicetraining.wire.exchange import (
    ApiCall,
    Flow,
    MintToken,
    Send,
    Sleep,
    WireRequest,
)
from airflow_provider_voicetraining.wire.retry import (
    Attempts,
    Done,
    Fail,
    RefreshToken,
    Retry,
    RetryPolicy,
    decide,
)
from airflow_provider_voicetraining.wire.secrets import Redactor, Secret
from airflow_provider_voicetraining.wire.settings import (
    AUTH_AKSK,
    AUTH_PASSWORD,
    AUTH_TOKEN,
    ConnectionSettings,
)
from airflow_provider_voicetraining.wire.tokens import TOKENS, IssuedToken, cache_key

log = logging.getLogger("airflow_provider_voicetraining.wire")

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


def call_flow(
    call: ApiCall[T],
    settings: ConnectionSettings,
    policy: RetryPolicy,
    redact: Redactor,
    clock: Callable[[], float] = time.time,
) -> Flow[T]:
    """Perform ``call`` with auth and retries; yields actions, returns the decoded value."""
    attempts = Attempts()
    service = call.target == "service"
    minted = service and settings.auth_type == AUTH_PASSWORD
    key = cache_key(settings) if minted else ""
    while True:
        token: Secret | None = settings.token if service and settings.auth_type == AUTH_TOKEN else None
        if minted:
            token = TOKENS.valid(key) or (yield MintToken())
        outcome = yield Send(build_request(call, settings, token, clock()))
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
            decision.reason,
            attempts.retries,
            policy.max_retries,
            decision.after,
        )
        yield Sleep(decision.after)


class TransportBase:
    """What the sync and async transports share: what a call's flow needs, and token keeping.

    :param settings: the validated connection.
    :param policy: retry policy of every call.
    :param redact: redactor of server text (minted tokens are added to it).
    """

    def __init__(self, settings: ConnectionSettings, policy: RetryPolicy, redact: Redactor) -> None:
        self.settings = settings
        self.policy = policy
        self.redact = redact

    def flow(self, call: ApiCall[T]) -> Flow[T]:
        """The request flow of ``call`` on this transport's connection."""
        return call_flow(call, self.settings, self.policy, self.redact)

    def keep_token(self, issued: IssuedToken) -> Secret:
        """Remember a newly minted token for every caller of the process, and redact it."""
        self.redact.add(issued.token)
        TOKENS.store(cache_key(self.settings), issued)
        return issued.token
