"""Runs the request core with ``httpx.AsyncClient`` and ``asyncio.sleep`` (the triggerer).

Nothing here blocks the event loop. Clients are shared per event loop and per transport
settings (TLS verification, timeout), reference-counted: a thousand triggers polling the same
endpoint share one connection pool of at most :data:`POOL_SIZE` connections instead of each
holding its own, so connections opened are bounded by the pool, not by triggers or polls.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from typing import Any, TypeVar

import httpx

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

#: Connections per shared pool (per event loop and transport settings).
POOL_SIZE = 64
#: Close idle pooled connections before typical server keep-alive limits (60 s) do.
KEEPALIVE_EXPIRY = 50.0


def classify_httpx_error(exc: httpx.HTTPError) -> TransportFailure:
    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return TransportFailure("connect_timeout", message, sent=False)
    if isinstance(exc, httpx.ConnectError):
        kind = "tls" if "SSL" in str(exc) or "certificate" in str(exc).lower() else "connect"
        return TransportFailure(kind, message, sent=False)
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout):
        return TransportFailure("read_timeout", message, sent=True)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return TransportFailure("protocol", message, sent=True)
    return TransportFailure("other", message, sent=True)


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    if verify is True or verify is False:
        return verify
    import os

    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


class _SharedClients:
    """``httpx.AsyncClient`` objects shared per (event loop, verify, timeout), ref-counted."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[Any, ...], list[Any]]
        ] = weakref.WeakKeyDictionary()
        #: clients created (observability for tests and benchmarks)
        self.created = 0

    def acquire(self, settings: ConnectionSettings) -> tuple[tuple[Any, ...], httpx.AsyncClient]:
        loop = asyncio.get_running_loop()
        key = (str(settings.verify), settings.timeout)
        clients = self._by_loop.setdefault(loop, {})
        entry = clients.get(key)
        if entry is None:
            client = httpx.AsyncClient(
                verify=_ssl_context(settings.verify),
                timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
                limits=httpx.Limits(
                    max_connections=POOL_SIZE,
                    max_keepalive_connections=POOL_SIZE,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
                follow_redirects=False,
            )
            self.created += 1
            entry = clients[key] = [client, 0]
        entry[1] += 1
        return key, entry[0]  # type: ignore[no-any-return]

    async def release(self, key: tuple[Any, ...]) -> None:
        loop = asyncio.get_running_loop()
        clients = self._by_loop.get(loop, {})
        entry = clients.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            del clients[key]
            await entry[0].aclose()


SHARED_CLIENTS = _SharedClients()


class AsyncDriver:
    """Use as ``async with driver:``, or call :meth:`aclose` when done."""

    def __init__(self, settings: ConnectionSettings, policy: RetryPolicy, redact: Redactor) -> None:
        self.settings = settings
        self.policy = policy
        self.redact = redact
        self._client: httpx.AsyncClient | None = None
        self._key: tuple[Any, ...] | None = None
        self.requests_sent = 0

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._key, self._client = SHARED_CLIENTS.acquire(self.settings)
        return self._client

    async def aclose(self) -> None:
        if self._key is not None:
            key, self._key, self._client = self._key, None, None
            await SHARED_CLIENTS.release(key)

    async def __aenter__(self) -> AsyncDriver:
        _ = self.client
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def execute(self, call: ApiCall[T]) -> T:
        return await self.run(call_flow(call, self.settings, self.policy, self.redact))

    async def run(self, flow: Flow[T]) -> T:
        outcome: Any = None
        try:
            while True:
                action = flow.send(outcome)
                if isinstance(action, Send):
                    outcome = await self._send(action.request)
                elif isinstance(action, Sleep):
                    await asyncio.sleep(action.seconds)
                    outcome = None
                elif isinstance(action, GetToken):
                    outcome = await self._token()
                elif isinstance(action, DropToken):
                    TOKENS.drop(cache_key(self.settings), action.token)
                    outcome = None
                else:  # pragma: no cover - exhaustive
                    raise TypeError(f"unknown action {action!r}")
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]

    async def _send(self, request: WireRequest) -> WireResponse | TransportFailure:
        if isinstance(request.body, FileBody):
            raise NotImplementedError("file uploads run on the sync driver (in the worker)")
        self.requests_sent += 1
        try:
            response = await self.client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        except httpx.HTTPError as exc:
            return classify_httpx_error(exc)
        return WireResponse(response.status_code, Headers(response.headers.items()), response.content)

    async def _token(self) -> Secret:
        key = cache_key(self.settings)
        token = TOKENS.valid(key)
        if token is not None:
            return token
        async with TOKENS.loop_lock(key):
            token = TOKENS.valid(key)
            if token is not None:
                return token
            issued = await self.execute(token_call(self.settings))
            self.redact.add(issued.token)
            await compat.amask_secret(issued.token.reveal())
            TOKENS.store(key, issued)
            return issued.token
