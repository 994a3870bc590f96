"""Runs the request flow with ``httpx`` and ``asyncio.sleep`` (the triggerer).

Nothing here blocks the event loop. Clients are shared per event loop and per transport
settings (TLS verification, timeout), reference-counted: a thousand triggers polling the same
endpoint share one pool of at most :data:`POOL_SIZE` keep-alive connections instead of each
holding its own (see :mod:`.async_pool` for the pool itself).
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from airflow_provider_voicetraining.wire.async_pool import (
    KEEPALIVE_EXPIRY,
    POOL_SIZE,
    PooledTransport,
    shared_ssl_context,
)
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


async def _ignore_token(token: Secret) -> None:
    return None


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
                transport=PooledTransport(shared_ssl_context(verify), size=POOL_SIZE),
            )
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


class AsyncTransport(TransportBase):
    """Carries out a call's flow with ``httpx``; use as ``async with transport:`` or call
    :meth:`aclose` when done.

    :param settings: the validated connection.
    :param policy: retry policy of every call.
    :param redact: redactor of server text (minted tokens are added to it).
    :param on_token: awaited with each newly minted IAM token (the hook masks it in Airflow).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        policy: RetryPolicy,
        redact: Redactor,
        on_token: Callable[[Secret], Awaitable[None]] = _ignore_token,
    ) -> None:
        super().__init__(settings, policy, redact)
        self.on_token = on_token
        self._client: httpx.AsyncClient | None = None
        self._key: tuple[Any, ...] | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._key, self._client = SHARED_CLIENTS.acquire(self.settings)
        return self._client

    async def aclose(self) -> None:
        if self._key is not None:
            key, self._key, self._client = self._key, None, None
            await SHARED_CLIENTS.release(key)

    async def __aenter__(self) -> AsyncTransport:
        _ = self.client
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def execute(self, call: ApiCall[T]) -> T:
        return await self.run(self.flow(call))

    async def run(self, flow: Flow[T]) -> T:
        """Carry out ``flow``'s actions until it returns (or raises), never blocking the loop."""
        outcome: Any = None
        while True:
            try:
                action = flow.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(action, Send):
                outcome = await self._send(action.request)
            elif isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                outcome = None
            else:
                outcome = await self._token()

    async def _send(self, request: WireRequest) -> WireResponse | TransportFailure:
        if isinstance(request.body, FileBody):
            raise NotImplementedError("file uploads run on the sync transport (in the worker)")
        try:
            response = await self.client.request(
                request.method, request.url, headers=request.headers, content=request.body
            )
        except httpx.HTTPError as exc:
            return classify_httpx_error(exc)
        return WireResponse(response.status_code, Headers(response.headers.items()), response.content)

    async def _token(self) -> Secret:
        """A token for the connection, minted once however many triggers ask at the same time."""
        key = cache_key(self.settings)
        async with TOKENS.loop_lock(key):
            token = TOKENS.valid(key)
            if token is not None:
                return token
            issued = await self.execute(token_call(self.settings))
            await self.on_token(issued.token)
            return self.keep_token(issued)
