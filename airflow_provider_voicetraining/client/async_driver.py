"""Runs the request core with ``httpx`` and ``asyncio.sleep`` (the triggerer).

Nothing here blocks the event loop. Connections are shared per event loop and per transport
settings (TLS verification, timeout), reference-counted: a thousand triggers polling the same
endpoint share one pool of at most :data:`POOL_SIZE` keep-alive connections instead of each
holding its own, so connections opened are bounded by the pool, not by triggers or polls.

The client's transport (:class:`PooledTransport`) keeps each connection in its own
single-connection ``httpx`` transport (one shared ``SSLContext``), handed out
most-recently-used first behind an ``asyncio.Semaphore``. httpcore's own pool re-examines
every pooled connection (a ``poll()`` on each idle socket, twice per request) and every
queued request, so with one pool of ``POOL_SIZE`` connections the CPU cost of a request
grows with the number of connections open (0.7 ms with 1, 3.3 ms with 64 on the benchmark
machine) and with the queue during a burst. One connection per transport keeps that
bookkeeping at one connection, and the semaphore queues excess requests in O(1). The client
itself (headers, cookies, timeouts, redirects, proxies from the environment) is unchanged.
See ``BENCHMARKS.md``.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import AsyncIterator, Callable
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


def _shared_ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext | bool:
    """The ``SSLContext`` ``httpx`` would build for ``verify``, built once for all the pool's
    connections (a CA bundle is loaded once, not once per connection)."""
    create = getattr(httpx, "create_ssl_context", None)
    if create is None:  # pragma: no cover - older httpx: each connection builds its own
        return verify
    try:
        return create(verify=verify, trust_env=True)  # type: ignore[no-any-return]
    except TypeError:  # pragma: no cover - an httpx with another signature
        return verify


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that gives its connection back to the pool once closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()


class PooledTransport(httpx.AsyncBaseTransport):
    """At most ``size`` keep-alive connections, each in its own single-connection transport.

    Does what ``httpx.AsyncHTTPTransport(limits=Limits(max_connections=size,
    max_keepalive_connections=size, keepalive_expiry=...))`` does, including the pool timeout,
    but hands connections out most-recently-used first behind an ``asyncio.Semaphore``, so the
    bookkeeping per request is O(1) instead of O(connections + queued requests).
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | bool,
        size: int = POOL_SIZE,
        keepalive_expiry: float = KEEPALIVE_EXPIRY,
    ) -> None:
        self._ssl_context = ssl_context
        self._size = size
        self._limits = httpx.Limits(
            max_connections=1, max_keepalive_connections=1, keepalive_expiry=keepalive_expiry
        )
        self._slots = asyncio.Semaphore(size)
        #: idle transports, most recently used last (reused first: hot connections stay open,
        #: cold ones reach their keep-alive expiry and close)
        self._idle: list[httpx.AsyncHTTPTransport] = []
        self._transports: list[httpx.AsyncHTTPTransport] = []
        self._closed = False

    async def _acquire(self, request: httpx.Request) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise httpx.PoolTimeout(
                f"no connection of the pool ({self._size}) became free within {timeout}s", request=request
            ) from None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._acquire(request)
        if self._idle:
            transport = self._idle.pop()
        else:
            transport = httpx.AsyncHTTPTransport(verify=self._ssl_context, limits=self._limits)
            self._transports.append(transport)
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                if not self._closed:
                    self._idle.append(transport)
                self._slots.release()

        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        response.stream = _ReleasingStream(response.stream, release)  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        self._closed = True
        transports, self._transports, self._idle = self._transports, [], []
        for transport in transports:
            await transport.aclose()


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
            verify = _ssl_context(settings.verify)
            client = httpx.AsyncClient(
                verify=verify,
                timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
                # limits and verify also apply to proxies taken from the environment
                limits=httpx.Limits(
                    max_connections=POOL_SIZE,
                    max_keepalive_connections=POOL_SIZE,
                    keepalive_expiry=KEEPALIVE_EXPIRY,
                ),
                follow_redirects=False,
                transport=PooledTransport(_shared_ssl_context(verify), size=POOL_SIZE),
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
        #: parsed URLs (a poller requests the same URL every time; httpx parses in Python)
        self._urls: dict[str, httpx.URL] = {}

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
                request.method, self._url(request.url), headers=request.headers, content=request.body
            )
        except httpx.HTTPError as exc:
            return classify_httpx_error(exc)
        return WireResponse(response.status_code, Headers(response.headers.items()), response.content)

    def _url(self, url: str) -> httpx.URL:
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= 32:  # listing pages, other jobs: keep the cache small
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

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
