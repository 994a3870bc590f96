"""An ``httpx`` transport that keeps at most ``size`` keep-alive connections, O(1) per request.

httpcore's own pool re-examines every pooled connection (a ``poll()`` on each idle socket, twice
per request) and every queued request, so with one pool of 64 connections the CPU cost of a
request grows with the connections open (0.7 ms with 1, 3.3 ms with 64 on the benchmark
machine) and with the queue during a burst. :class:`PooledTransport` keeps each connection in
its own single-connection ``httpx.AsyncHTTPTransport`` (one shared ``SSLContext``), hands them out
most-recently-used first behind an ``asyncio.Semaphore``, and so keeps the bookkeeping per
request at one connection. ``tests/wire/test_async_pool.py`` compares it with the stock
transport; ``BENCHMARKS.md`` has the figures that justify it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

#: Connections per shared pool (per event loop and transport settings).
POOL_SIZE = 64
#: Close idle pooled connections before typical server keep-alive limits (60 s) do.
KEEPALIVE_EXPIRY = 50.0


def shared_ssl_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext | bool:
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
