"""Runs the request flow with ``requests`` and ``time.sleep`` (workers, sensors in poke mode).

One :class:`requests.Session` per transport (per hook), so keep-alive connections are reused
across calls and across polls of a poking sensor. Only ``requests``' public API is used.

``requests`` re-reads the proxy and CA-bundle environment on every request (about 100 µs, more
than signing and decoding together). The transport asks for it once per URL origin
(``Session.merge_environment_settings``) and passes the result with each request, so proxies,
``no_proxy``, ``REQUESTS_CA_BUNDLE`` and the connection's ``verify`` apply exactly as
``requests`` applies them; an environment changed after the hook's first call to a host is not
seen by that hook.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import requests.adapters

from airflow_provider_voicetraining.wire.exchange import (
    ApiCall,
    FileBody,
    Flow,
    Headers,
    Send,
    Sleep,
    TransportFailure,
    WireRequest,
    WireResponse,
)
from airflow_provider_voicetraining.wire.request_flow import TransportBase
from airflow_provider_voicetraining.wire.retry import RetryPolicy
from airflow_provider_voicetraining.wire.secrets import Redactor, Secret
from airflow_provider_voicetraining.wire.settings import ConnectionSettings
from airflow_provider_voicetraining.wire.tokens import TOKENS, cache_key, token_call

T = TypeVar("T")


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


class SyncTransport(TransportBase):
    """Carries out a call's flow with ``requests``.

    :param settings: the validated connection.
    :param policy: retry policy of every call.
    :param redact: redactor of server text (minted tokens are added to it).
    :param on_token: called with each newly minted IAM token (the hook masks it in Airflow).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        policy: RetryPolicy,
        redact: Redactor,
        on_token: Callable[[Secret], None] = lambda token: None,
    ) -> None:
        super().__init__(settings, policy, redact)
        self.on_token = on_token
        self._session: requests.Session | None = None
        #: ``merge_environment_settings`` per URL origin (proxies, verify, cert)
        self._environment: dict[str, dict[str, Any]] = {}

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=8, max_retries=0)
            # the environment is merged once per origin by the transport (_request_settings)
            session.trust_env = False
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.verify = self.settings.verify
            self._session = session
        return self._session

    def _request_settings(self, url: str) -> dict[str, Any]:
        """The environment's proxies, CA bundle and client cert for ``url``, as ``requests``
        would merge them, looked up once per origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._environment.get(origin)
        if found is None:
            with requests.Session() as probe:  # trust_env on, as a plain requests call
                found = dict(probe.merge_environment_settings(url, {}, None, self.settings.verify, None))
            self._environment[origin] = found
        return {"proxies": found["proxies"], "verify": found["verify"], "cert": found["cert"]}

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        self._environment.clear()

    def execute(self, call: ApiCall[T]) -> T:
        return self.run(self.flow(call))

    def run(self, flow: Flow[T]) -> T:
        """Carry out ``flow``'s actions until it returns (or raises)."""
        outcome: Any = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(action, Send):
                outcome = self._send(action.request)
            elif isinstance(action, Sleep):
                time.sleep(action.seconds)
                outcome = None
            else:
                outcome = self._token()

    def _send(self, request: WireRequest) -> WireResponse | TransportFailure:
        body: Any = request.body
        handle = None
        try:
            if isinstance(body, FileBody):
                handle = open(body.path, "rb")  # noqa: SIM115 - closed in finally
                body = handle
            response = self.session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=body,
                timeout=(min(request.timeout, 10.0), request.timeout),
                allow_redirects=False,
                **self._request_settings(request.url),
            )
            return WireResponse(response.status_code, Headers(response.headers), response.content)
        except requests.RequestException as exc:
            return classify_requests_error(exc)
        finally:
            if handle is not None:
                handle.close()

    def _token(self) -> Secret:
        """A token for the connection, minted once however many threads ask at the same time."""
        key = cache_key(self.settings)
        with TOKENS.thread_lock(key):
            token = TOKENS.valid(key)
            if token is not None:
                return token
            issued = self.execute(token_call(self.settings))
            self.on_token(issued.token)
            return self.keep_token(issued)
