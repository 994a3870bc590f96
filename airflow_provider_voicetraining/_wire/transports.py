"""Performs the request flow over HTTP: one ``httpx`` implementation for sync and async callers.

:class:`AsyncTransport` runs a call's flow on the running event loop (the triggerer's);
:class:`SyncTransport` runs the very same coroutine on an event loop of the calling thread
(:mod:`.event_loop`), so workers, poking sensors and triggers share bounds, retries and errors.
Every attempt ends by its deadline whatever the phase; a body is read raw and decoded up to the
call's cap (:class:`~.bodies.CappedBody`); redirects are never followed. Connections are pooled
per event loop and transport settings (:class:`HttpClient`, at most :data:`POOL_SIZE`), shared
by every transport of the loop. Why one transport, why exchanges are not cancelled at their
deadline, why 16 connections: docs/design.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.request import getproxies

import httpx

from airflow_provider_voicetraining._wire.bodies import CappedBody
from airflow_provider_voicetraining._wire.errors import VoiceTrainingConnectionError
from airflow_provider_voicetraining._wire.event_loop import loop_for_this_thread, run_on, runs_here
from airflow_provider_voicetraining._wire.exchange import (
    ApiCall,
    FileBody,
    Headers,
    Send,
    Sleep,
    TransportFailure,
    WireRequest,
    WireResponse,
)
from airflow_provider_voicetraining._wire.limits import (
    MAX_CONNECT_TIMEOUT,
    MAX_ERROR_BODY,
    PARSE_IN_THREAD_ABOVE,
)
from airflow_provider_voicetraining._wire.log_scrub import scrub_http_library_logs
from airflow_provider_voicetraining._wire.request_flow import call_flow
from airflow_provider_voicetraining._wire.retry import RetryPolicy
from airflow_provider_voicetraining._wire.secrets import Redactor, Secret
from airflow_provider_voicetraining._wire.settings import ConnectionSettings
from airflow_provider_voicetraining._wire.time_limits import within
from airflow_provider_voicetraining._wire.tokens import TOKENS, IssuedToken, cache_key, token_call

T = TypeVar("T")

#: Bytes read from a file per upload chunk.
UPLOAD_CHUNK = 256 * 1024
#: Connections per shared client (per event loop and transport settings).
POOL_SIZE = 16
#: Close idle pooled connections before typical server keep-alive limits (60 s) do.
KEEPALIVE_EXPIRY = 50.0


def classify_httpx_error(exc: httpx.HTTPError) -> TransportFailure:
    """Map an ``httpx`` exception to a failure, noting whether the request may have arrived."""
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


def _ssl_context(settings: ConnectionSettings) -> ssl.SSLContext | bool:
    """The TLS verification of the connection; a ``verify`` file that is not a CA bundle is the
    connection's error, named, not an ``ssl.SSLError`` from deep inside a call."""
    verify = settings.verify
    if verify is True or verify is False:
        return verify
    try:
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise VoiceTrainingConnectionError(
            f"{settings.described} field verify",
            f"{verify!r} is not a CA bundle ({reason})",
            "give the path of a PEM file holding the CA certificate(s) that signed the endpoint's "
            "certificate (not a private key or the server's own key), or true to use the system's CAs",
        ) from None


#: Headers httpx's client added to every request, kept so the bytes on the wire stay the same.
_CLIENT_HEADERS = {"Accept": "*/*", "Connection": "keep-alive"}


class HttpClient:
    """The connection pools of one event loop and transport settings: httpx's own transports.

    A request goes straight to the transport for its URL (direct, or the environment's proxy for
    its scheme unless ``NO_PROXY`` names its host); httpx's ``AsyncClient`` on top added
    cookies, redirects, auth hooks and URL merging the provider does not use, at about a third
    of a call's CPU (docs/performance.md). Proxies are read from the environment once, when the
    client is built, as httpx's client did.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        verify = _ssl_context(settings)
        limits = httpx.Limits(
            max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE, keepalive_expiry=KEEPALIVE_EXPIRY
        )
        self._proxies = getproxies()
        # limits and verify apply to the proxies' transports too; all are built here, off the loop
        self._transports = {
            scheme: httpx.AsyncHTTPTransport(verify=verify, limits=limits, trust_env=True, proxy=proxy)
            for scheme, proxy in (("", None), *_proxy_urls(self._proxies))
        }
        self._routes: dict[tuple[str, str, int | None], httpx.AsyncHTTPTransport] = {}

    def transport(self, url: httpx.URL) -> httpx.AsyncHTTPTransport:
        """The transport for ``url`` (decided once per origin)."""
        origin = (url.scheme, url.host, url.port)
        route = self._routes.get(origin)
        if route is None:
            proxied = not _no_proxy(url.scheme, url.host, self._proxies.get("no", ""))
            chosen = (self._transports.get(url.scheme) or self._transports.get("all")) if proxied else None
            route = self._routes[origin] = chosen or self._transports[""]
        return route

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()


def _no_proxy(scheme: str, host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host``, read as httpx's client read it: ``*``, a host (and
    its subdomains), ``.domain`` (its subdomains), optionally ``scheme://``-prefixed."""
    for raw in no_proxy.lower().split(","):
        entry = raw.strip()
        if entry == "*":
            return True
        if "://" in entry:
            entry_scheme, entry = entry.split("://", 1)
            if entry_scheme not in (scheme, "all"):
                continue
        entry = entry.lstrip("*")
        if entry.startswith("."):
            if host.endswith(entry):
                return True
        elif entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


@functools.lru_cache(maxsize=1024)
def _parsed_once(url: str) -> httpx.URL:
    return httpx.URL(url)


def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed; URLs without a query (a poller's shows) are parsed once. A query may be a
    presigned URL's signature: those are not kept."""
    return httpx.URL(url) if "?" in url else _parsed_once(url)


def _proxy_urls(proxies: dict[str, str]) -> list[tuple[str, str]]:
    """``(scheme, proxy URL)`` for the schemes httpx's client took from the environment."""
    return [
        (scheme, proxies[scheme] if "://" in proxies[scheme] else f"http://{proxies[scheme]}")
        for scheme in ("http", "https", "all")
        if proxies.get(scheme)
    ]


class _SharedClients:
    """:class:`HttpClient` objects shared per (event loop, verify, timeout), ref-counted."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[Any, ...], list[Any]]
        ] = weakref.WeakKeyDictionary()
        self._building: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[Any, ...], asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    async def acquire(
        self, settings: ConnectionSettings
    ) -> tuple[tuple[Any, ...], HttpClient, asyncio.Semaphore]:
        """The loop's client for these settings and the gate of its pool; a new client is built in
        a worker thread (loading a CA bundle takes tens of milliseconds the loop must not wait)."""
        loop = asyncio.get_running_loop()
        key = (str(settings.verify), settings.timeout)
        clients = self._by_loop.setdefault(loop, {})
        if key not in clients:
            # one builder per key: a thousand triggers starting together must not each load a
            # CA bundle and build a client only to throw it away
            lock = self._building.setdefault(loop, {}).setdefault(key, asyncio.Lock())
            async with lock:
                if key not in clients:
                    scrub_http_library_logs()
                    client = await asyncio.to_thread(HttpClient, settings)
                    clients[key] = [client, 0, asyncio.Semaphore(POOL_SIZE)]
        entry = clients[key]
        entry[1] += 1
        return key, entry[0], entry[2]

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


async def _file_chunks(body: FileBody) -> AsyncIterator[bytes]:
    """Stream a file without blocking the loop on disk reads."""
    handle = await asyncio.to_thread(open, body.path, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, UPLOAD_CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


async def _read_capped(response: httpx.Response, limit: int, deadline: float) -> tuple[bytes, bool]:
    """The decoded body up to ``limit`` bytes, and whether it went beyond; a body still
    arriving at ``deadline`` raises ``httpx.ReadTimeout`` (its connection is then closed)."""
    capped = CappedBody(response.headers.get("Content-Encoding"), limit)
    # closed here, not by the garbage collector: a sync call's loop stops when the call returns
    async with contextlib.aclosing(response.aiter_raw()) as chunks:  # type: ignore[type-var]
        async for chunk in chunks:
            if time.time() > deadline:
                raise httpx.ReadTimeout("the body was still arriving at the call's deadline")
            if not capped.feed(chunk):
                break
    return capped.value(), capped.truncated


#: exchanges whose caller stopped waiting at its deadline, still ending by themselves
_DETACHED: set[asyncio.Future[Any]] = set()


def _detach(exchange: asyncio.Future[Any]) -> None:
    """Keep ``exchange`` referenced until it ends, and consume its outcome when it does."""
    _DETACHED.add(exchange)

    def _done(task: asyncio.Future[Any]) -> None:
        _DETACHED.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a detached failure is not an unhandled one

    exchange.add_done_callback(_done)


async def _ignore_token(token: Secret) -> None:
    return None


class AsyncTransport:
    """Carries out a call's flow with ``httpx`` on the running loop; use as
    ``async with transport:`` or call :meth:`aclose` when done.

    :param settings: the validated connection.
    :param policy: retry policy of every call.
    :param redact: redactor of server text (minted tokens are added to it).
    :param on_token: awaited with each newly minted IAM token (the hook masks it in Airflow).
    :param sync_caller: runs for a sync caller (:class:`SyncTransport`), whose loop may block its
        thread while another thread mints the connection's token.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        policy: RetryPolicy,
        redact: Redactor,
        on_token: Callable[[Secret], Awaitable[None]] = _ignore_token,
        sync_caller: bool = False,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.redact = redact
        self.on_token = on_token
        self._sync_caller = sync_caller
        self._client: HttpClient | None = None
        self._gate = asyncio.Semaphore(POOL_SIZE)  # replaced by the shared client's own
        self._key: tuple[Any, ...] | None = None

    async def client(self) -> HttpClient:
        """The shared client this transport holds (acquired on first use)."""
        if self._client is None:
            key, client, gate = await SHARED_CLIENTS.acquire(self.settings)
            if self._client is None:
                self._key, self._client, self._gate = key, client, gate
            else:
                await SHARED_CLIENTS.release(key)
        return self._client

    async def aclose(self) -> None:
        if self._key is not None:
            key, self._key, self._client = self._key, None, None
            await SHARED_CLIENTS.release(key)

    async def __aenter__(self) -> AsyncTransport:
        await self.client()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def execute(self, call: ApiCall[T], deadline: float | None = None) -> T:
        """Perform ``call`` (retries included) and return its decoded value.

        :param call: the call.
        :param deadline: wall-clock epoch the whole call must end by (besides ``call_timeout``).
        """
        await self.client()  # acquired before the flow reserves rate-limit slots
        flow = call_flow(call, self.settings, self.policy, self.redact, deadline=deadline)
        outcome: Any = None
        try:
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
        finally:
            flow.close()  # a call cancelled while queued gives its rate-limit slot back now

    async def _send(self, request: WireRequest) -> WireResponse | TransportFailure:
        remaining = request.deadline - time.time()
        if remaining <= 0:
            return TransportFailure("deadline", "the call's time budget was spent before this attempt", False)
        content: Any = _file_chunks(request.body) if isinstance(request.body, FileBody) else request.body
        client = await self.client()
        gate = self._gate
        try:
            # waiting for a free connection may be cut short: nothing has been sent yet
            await (gate.acquire() if not gate.locked() else within(gate.acquire(), remaining))
        except asyncio.TimeoutError:
            return TransportFailure("deadline", f"no free connection within {remaining:.1f}s", False)
        exchange = asyncio.ensure_future(self._exchange(client, request, content))
        exchange.add_done_callback(lambda _: gate.release())
        try:
            # The deadline does not cancel the exchange: httpcore 1.0.9 leaks a pool slot for
            # good when a request is cancelled between getting a new connection and connecting
            # (encode/httpcore#1093), and enough leaks hang every later request. At the deadline
            # the caller gets its answer at once and the exchange is left to end by itself,
            # bounded by its own timeouts and the deadline check between body chunks.
            response = await within(asyncio.shield(exchange), max(0.0, request.deadline - time.time()))
        except asyncio.TimeoutError:
            _detach(exchange)
            return TransportFailure(
                "deadline", f"no complete answer within {remaining:.1f}s (connect, headers and body)", True
            )
        except asyncio.CancelledError:
            # the caller itself is cancelled (a trigger ended by the triggerer): its exchange
            # goes with it, as the task's cleanup expects (closing the shared client must not
            # wait for an exchange nobody awaits)
            exchange.cancel()
            raise
        except httpx.HTTPError as exc:
            return classify_httpx_error(exc)
        except ValueError as exc:  # a body the decoder refuses (unknown coding, corrupt stream)
            return TransportFailure("protocol", str(exc), sent=True)
        return response

    async def _exchange(self, client: HttpClient, request: WireRequest, content: Any) -> WireResponse:
        remaining = max(0.001, request.deadline - time.time())
        timeout = httpx.Timeout(
            min(self.settings.timeout, remaining),
            connect=min(self.settings.timeout, MAX_CONNECT_TIMEOUT, remaining),
        )
        outgoing = httpx.Request(
            request.method,
            _parsed_url(request.url),
            headers={**_CLIENT_HEADERS, **request.headers},
            content=content,
            extensions={"timeout": timeout.as_dict()},
        )
        response = await client.transport(outgoing.url).handle_async_request(outgoing)
        try:
            ok = 200 <= response.status_code < 300
            body, truncated = await _read_capped(
                response, request.max_body if ok else MAX_ERROR_BODY, request.deadline
            )
        finally:
            await response.aclose()
        answer = WireResponse(response.status_code, Headers(response.headers.items()), body, truncated)
        if ok and len(body) > PARSE_IN_THREAD_ABOVE:
            await asyncio.to_thread(_parse_quietly, answer)
        return answer

    async def _token(self) -> Secret:
        """A token for the connection, minted once however many callers ask at the same time."""
        key = cache_key(self.settings)
        async with TOKENS.loop_lock(key):
            token = TOKENS.valid(key)
            if token is not None:
                return token
            if not self._sync_caller:
                return await self._mint(key)
            # a sync caller's loop may block its thread: one mint for every thread's loop
            with TOKENS.thread_lock(key):
                return TOKENS.valid(key) or await self._mint(key)

    async def _mint(self, key: str) -> Secret:
        issued = await self.execute(token_call(self.settings))
        await self.on_token(issued.token)
        return self._keep_token(issued)

    def _keep_token(self, issued: IssuedToken) -> Secret:
        """Remember a newly minted token for every caller of the process, and redact it."""
        self.redact.add(issued.token)
        TOKENS.store(cache_key(self.settings), issued)
        return issued.token


def _parse_quietly(response: WireResponse) -> None:
    """Warm the response's parse cache; a bad body raises again, later, where it is judged."""
    with contextlib.suppress(ValueError):
        response.object()


class SyncTransport:
    """The sync face of :class:`AsyncTransport`: each call runs on an event loop of the calling
    thread (:mod:`.event_loop`), through one :class:`AsyncTransport` per loop.

    :param settings: the validated connection.
    :param policy: retry policy of every call.
    :param redact: redactor of server text (minted tokens are added to it).
    :param on_token: called, in the caller's thread, with each IAM token a call minted (the
        hook masks it in Airflow; the task supervisor's channel belongs to the caller's thread).
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        policy: RetryPolicy,
        redact: Redactor,
        on_token: Callable[[Secret], None] = lambda token: None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.redact = redact
        self.on_token = on_token
        self._minted: list[Secret] = []
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncTransport] = (
            weakref.WeakKeyDictionary()
        )

    async def _collect(self, token: Secret) -> None:
        self._minted.append(token)

    def _on(self, loop: asyncio.AbstractEventLoop) -> AsyncTransport:
        transport = self._by_loop.get(loop)
        if transport is None:
            transport = self._by_loop[loop] = AsyncTransport(
                self.settings, self.policy, self.redact, self._collect, sync_caller=True
            )
        return transport

    def execute(self, call: ApiCall[T], deadline: float | None = None) -> T:
        """Perform ``call`` (retries included) and return its decoded value.

        :param call: the call.
        :param deadline: wall-clock epoch the whole call must end by (besides ``call_timeout``).
        """
        loop = loop_for_this_thread()
        try:
            return run_on(loop, self._on(loop).execute(call, deadline))
        finally:
            self._hand_over_minted()

    def token(self) -> Secret:
        """The connection's IAM token (``auth_type=password``): the process's cached one, or one
        minted now, once however many threads and calls ask together (the hook's rule and cache;
        ``requests`` calls through :class:`~airflow_provider_voicetraining.auth.MetaStudioAuth`
        get their tokens here)."""
        loop = loop_for_this_thread()
        try:
            return run_on(loop, self._on(loop)._token())
        finally:
            self._hand_over_minted()

    def _hand_over_minted(self) -> None:
        while self._minted:
            self.on_token(self._minted.pop())

    def close(self) -> None:
        """Give back the shared connection pools this transport holds on this thread's loops.

        (A pool taken on another thread's loop goes when that thread ends.)
        """
        for loop, transport in list(self._by_loop.items()):
            if runs_here(loop):
                run_on(loop, transport.aclose())
                del self._by_loop[loop]
