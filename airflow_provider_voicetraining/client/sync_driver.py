"""Runs the request core with ``requests`` and ``time.sleep`` (workers, sensors in poke mode).

One :class:`requests.Session` per driver (per hook), so keep-alive connections are reused
across calls and across polls of a poking sensor.

``requests`` re-reads the proxy environment on every request (``Session.request`` ->
``merge_environment_settings``: four passes over ``os.environ`` plus the ``no_proxy``
check), which costs more than signing and decoding together. The driver performs the same
steps as ``Session.request`` but remembers the merged settings per URL origin until
``os.environ`` changes, so the outcome is the same, only cheaper (see ``BENCHMARKS.md``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TypeVar

import requests
import requests.adapters

from airflow_provider_voicetraining import compat
from airflow_provider_voicetraining.client.core import call_flow
from airflow_provider_voicetraining.client.messages import (
    ApiCall,
    DropToken,
    FileBody,
    Flow,
    GetToken,
    Headers,
    Send,
    Sleep,
    TransportFailure,
    WireRequest,
    WireResponse,
)
from airflow_provider_voicetraining.client.retry import RetryPolicy
from airflow_provider_voicetraining.client.tokens import TOKENS, cache_key, token_call
from airflow_provider_voicetraining.connection import ConnectionSettings
from airflow_provider_voicetraining.secret import Redactor, Secret

T = TypeVar("T")

#: Remember environment settings only where ``urllib``'s proxy lookup reads nothing but the
#: environment (not macOS, which consults the system configuration, nor Windows, which reads
#: the registry).
_CACHE_ENVIRONMENT = sys.platform not in ("darwin", "win32")


def _environ_data() -> dict[Any, Any] | None:
    """``os.environ``'s underlying dict (compared by value to notice any change), or None if
    ``os.environ`` is not the usual mapping (e.g. replaced by a test)."""
    data = getattr(os.environ, "_data", None) if _CACHE_ENVIRONMENT else None
    return data if isinstance(data, dict) else None


def classify_requests_error(exc: requests.RequestException) -> TransportFailure:
    """Map a ``requests`` exception to a failure, noting whether the request may have arrived."""
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransportFailure("connect_timeout", message, sent=False)
    if isinstance(exc, requests.exceptions.SSLError):
        return TransportFailure("tls", message, sent=False)
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return TransportFailure("read_timeout", message, sent=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if type(reason).__name__ in ("NewConnectionError", "NameResolutionError", "ProxyError"):
            return TransportFailure("connect", message, sent=False)
        return TransportFailure("protocol", message, sent=True)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return TransportFailure("protocol", message, sent=True)
    return TransportFailure("other", message, sent=True)


class SyncDriver:
    def __init__(self, settings: ConnectionSettings, policy: RetryPolicy, redact: Redactor) -> None:
        self.settings = settings
        self.policy = policy
        self.redact = redact
        self._session: requests.Session | None = None
        #: HTTP requests sent (observability: "exactly one request per poke")
        self.requests_sent = 0
        #: ``merge_environment_settings`` results per (URL origin, verify), valid while the
        #: environment equals ``_environ_snapshot``
        self._env_settings: dict[tuple[str, Any], dict[str, Any]] = {}
        self._environ_snapshot: dict[Any, Any] | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=8, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.verify = self.settings.verify
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        self._env_settings.clear()

    def _environment_settings(self, session: requests.Session, url: str, verify: Any) -> dict[str, Any]:
        """``session.merge_environment_settings(url, {}, None, verify, None)``, as
        ``Session.request`` computes it, remembered until ``os.environ`` changes."""
        environ = _environ_data()
        if environ is None or not session.trust_env:
            return dict(session.merge_environment_settings(url, {}, None, verify, None))
        if self._environ_snapshot is None or self._environ_snapshot != environ:
            self._env_settings.clear()
            self._environ_snapshot = dict(environ)
        # The proxy decision depends on the scheme, host and port only.
        scheme, _, rest = url.partition("://")
        key = (f"{scheme}://{rest.split('/', 1)[0]}", verify)
        cached = self._env_settings.get(key)
        if cached is None:
            cached = self._env_settings[key] = dict(
                session.merge_environment_settings(url, {}, None, verify, None)
            )
        return {**cached, "proxies": dict(cached["proxies"])}

    def execute(self, call: ApiCall[T]) -> T:
        return self.run(call_flow(call, self.settings, self.policy, self.redact))

    def run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        try:
            while True:
                action = flow.send(outcome)
                if isinstance(action, Send):
                    outcome = self._send(action.request)
                elif isinstance(action, Sleep):
                    time.sleep(action.seconds)
                    outcome = None
                elif isinstance(action, GetToken):
                    outcome = self._token()
                elif isinstance(action, DropToken):
                    TOKENS.drop(cache_key(self.settings), action.token)
                    outcome = None
                else:  # pragma: no cover - exhaustive
                    raise TypeError(f"unknown action {action!r}")
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    def _send(self, request: WireRequest) -> WireResponse | TransportFailure:
        self.requests_sent += 1
        body: Any = request.body
        handle = None
        try:
            if isinstance(body, FileBody):
                handle = open(body.path, "rb")  # noqa: SIM115 - closed in finally
                body = handle
            session = self.session
            # What Session.request does, with the environment lookup remembered.
            prepared = session.prepare_request(
                requests.Request(
                    method=request.method.upper(),
                    url=request.url,
                    headers=request.headers,
                    data=body or {},
                    params={},
                )
            )
            # per request: requests lets REQUESTS_CA_BUNDLE override Session.verify
            settings = self._environment_settings(session, prepared.url or request.url, self.settings.verify)
            response = session.send(
                prepared,
                timeout=(min(request.timeout, 10.0), request.timeout),
                allow_redirects=False,
                **settings,
            )
            return WireResponse(response.status_code, Headers(response.headers), response.content)
        except requests.RequestException as exc:
            return classify_requests_error(exc)
        finally:
            if handle is not None:
                handle.close()

    def _token(self) -> Secret:
        key = cache_key(self.settings)
        token = TOKENS.valid(key)
        if token is not None:
            return token
        with TOKENS.thread_lock(key):
            token = TOKENS.valid(key)
            if token is not None:
                return token
            issued = self.execute(token_call(self.settings))
            self.redact.add(issued.token)
            compat.mask_secret(issued.token.reveal())
            TOKENS.store(key, issued)
            return issued.token
