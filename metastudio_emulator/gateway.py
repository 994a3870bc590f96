"""The API Gateway in front of every API route: request ids, faults, authentication, logging.

Order per request, as on the real gateway: request id -> fault decision (status, throttle,
drop/malformed without processing) -> ``token_expiry`` -> authentication -> rate limit ->
handler -> drop/malformed after processing. Control routes (``/_emulator/``) skip all of it
except the request id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from airflow_provider_voicetraining._wire.signing import parse_query
from metastudio_emulator.auth import (
    Identity,
    SignedRequest,
    no_credentials,
    project_mismatch,
)
from metastudio_emulator.faults import FaultRule
from metastudio_emulator.request_checks import app_user_id
from metastudio_emulator.requestlog import LogEntry, redact_query
from metastudio_emulator.responses import (
    BAD_GATEWAY,
    INTERNAL,
    THROTTLE_MSG,
    THROTTLED,
    ApiError,
    throttled,
)
from metastudio_emulator.runtime import EmulatorRuntime

SCOPE_KEY = "metastudio_emulator"


class DroppedConnection(Exception):
    """Raised after a partial response so the server closes the connection (``drop`` fault)."""


class _DropFilter(logging.Filter):
    """Keep uvicorn from logging an injected drop as an application crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


class _AccessRedactFilter(logging.Filter):
    """uvicorn's access log prints the full path: hide presigned-URL signatures in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            record.args = (*args[:2], f"{path}?{redact_query(query)}", *args[3:])
        return True


def install_log_filter() -> None:
    for name, cls in (("uvicorn.error", _DropFilter), ("uvicorn.access", _AccessRedactFilter)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, cls) for f in logger.filters):
            logger.addFilter(cls())


@dataclass
class RequestContext:
    request_id: str
    started: float
    route: str | None = None
    control: bool = False
    status: int | None = None
    auth: str = "none"
    app_user_id: str | None = None
    fault: str | None = None
    auth_error: str | None = None
    #: the request log's generation when the request arrived
    generation: int = 0


def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope[SCOPE_KEY]
    return ctx


class RequestContextMiddleware:
    """Outermost ASGI layer: ``X-Request-Id`` on every response and one log entry per API call."""

    def __init__(self, app: ASGIApp, runtime: EmulatorRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = RequestContext(
            request_id=uuid.uuid4().hex, started=time.perf_counter(), generation=self.runtime.log.generation
        )
        scope[SCOPE_KEY] = ctx
        rid = ctx.request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid))
                message = {**message, "headers": headers}
                ctx.status = message["status"]
            await send(message)

        dropped = False
        try:
            await self.app(scope, receive, send_with_id)
        except DroppedConnection:
            dropped = True
            raise
        finally:
            if ctx.route is not None and not ctx.control:
                self._log(scope, ctx, dropped)

    def _log(self, scope: Scope, ctx: RequestContext, dropped: bool) -> None:
        client = scope.get("client")
        peer = (str(client[0]), int(client[1])) if client else None
        entry = LogEntry(
            time=time.time(),
            request_id=ctx.request_id,
            method=scope["method"],
            route=ctx.route or "unmatched",
            path=scope["path"],
            query=redact_query(scope.get("query_string", b"").decode("latin-1")),
            status=None if dropped else ctx.status,
            auth=ctx.auth,
            app_user_id=ctx.app_user_id,
            client=f"{peer[0]}:{peer[1]}" if peer else None,
            fault=ctx.fault,
            auth_error=ctx.auth_error,
            duration_ms=round((time.perf_counter() - ctx.started) * 1000, 3),
        )
        self.runtime.log.add(entry, peer, ctx.generation)


def decoded_headers(scope: Scope) -> dict[str, str]:
    """Request headers, names lowercased, values decoded as UTF-8 (how the SDK encodes them)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name in out:
            continue
        try:
            out[name] = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            out[name] = raw_value.decode("latin-1")
    return out


def raw_header(scope: Scope, name: bytes) -> bytes | None:
    for k, v in scope["headers"]:
        if k.lower() == name:
            return bytes(v)
    return None


def base_url(request: Request) -> str:
    """How the client reached us (scheme + Host), so URLs we hand out work from the client."""
    host = raw_header(request.scope, b"host")
    if host:
        return f"{request.scope.get('scheme', 'http')}://{host.decode('latin-1')}"
    server = request.scope.get("server") or ("127.0.0.1", 80)
    return f"{request.scope.get('scheme', 'http')}://{server[0]}:{server[1]}"


def raw_query(request: Request) -> str:
    qs: bytes = request.scope.get("query_string", b"")
    return qs.decode("latin-1")


def query_dict(request: Request) -> dict[str, str]:
    """Query parameters split like the gateway does (a literal ``+`` stays a plus); first wins."""
    out: dict[str, str] = {}
    for key, value in parse_query(raw_query(request)):
        out.setdefault(key, value)
    return out


async def authenticate(runtime: EmulatorRuntime, request: Request, project_id: str | None) -> Identity:
    """Token or AK/SK authentication of ``request`` for ``project_id`` (``None``: not project-scoped)."""
    scope = request.scope
    headers = decoded_headers(scope)
    now = runtime.gateway_now()
    token = headers.get("x-auth-token")
    if token:
        identity = runtime.tokens.verify(token, project_id, now)
    elif "authorization" in headers:
        body = await request.body()
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        identity = runtime.verifier.verify(
            SignedRequest(scope["method"], path, raw_query(request), headers, body), now
        )
        x_project = headers.get("x-project-id")
        if x_project is not None and project_id is not None and x_project.strip() != project_id:
            raise project_mismatch("X-Project-Id does not match the project in the path.")
    else:
        raise no_credentials()
    if project_id is not None and project_id not in identity.project_ids:
        raise project_mismatch(f"the project {project_id} does not belong to this account.")
    return identity


@dataclass(frozen=True)
class RouteSpec:
    """How the gateway treats one API route."""

    name: str
    auth: str = "iam"  # "iam" (token or AK/SK), "aksk" (AK/SK, no project), "none", "presign"
    style: str = "mss"  # error body style for injected faults


Handler = Callable[[Request, RequestContext], Awaitable[Response]]


def fault_error(rule: FaultRule, style: str) -> ApiError:
    if rule.kind == "throttle":
        err = throttled(10, rule.retry_after)
        if rule.error_code:
            err.code = rule.error_code
        return err
    status = int(rule.status)
    if style == "obs":
        code, msg = (
            rule.error_code or "ServiceUnavailable",
            rule.error_msg or "Please reduce your request rate.",
        )
        return ApiError(status, code, msg, style="obs")
    if style == "iam":
        return ApiError(status, "IAM", rule.error_msg or "Service Unavailable (injected fault)", style="iam")
    if status == 429:
        return ApiError(
            429, rule.error_code or THROTTLED, rule.error_msg or THROTTLE_MSG.format(limit=10), style="apig"
        )
    if status >= 502:
        msg = "Backend timeout" if status == 504 else "Backend unavailable"
        return ApiError(status, rule.error_code or BAD_GATEWAY, rule.error_msg or msg, style="apig")
    if status >= 500:
        return ApiError(status, rule.error_code or INTERNAL, rule.error_msg or "Internal server error.")
    return ApiError(status, rule.error_code or "MSS.00000003", rule.error_msg or "Injected fault.")


class DropResponse(Response):
    """Head with the full ``Content-Length``, half the body, then a closed connection."""

    def __init__(self, inner: Response) -> None:
        self.inner = inner
        body = bytes(inner.body) or b'{"error_code":"MSS.00000000","error_msg":"this body never arrives"}'
        self.full = body
        super().__init__(content=b"", status_code=inner.status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k, v) for k, v in self.inner.raw_headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(self.full)).encode()))
        await send({"type": "http.response.start", "status": self.inner.status_code, "headers": headers})
        await send(
            {"type": "http.response.body", "body": self.full[: len(self.full) // 2], "more_body": True}
        )
        raise DroppedConnection("injected drop fault")


class TrickleResponse(Response):
    """The real answer, its body sent ``chunk_size`` bytes at a time, ``delay`` seconds apart."""

    def __init__(self, inner: Response, chunk_size: int, delay: float) -> None:
        self.inner = inner
        self.chunk_size = chunk_size
        self.delay = delay
        super().__init__(content=b"", status_code=inner.status_code)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytes(self.inner.body)
        headers = [(k, v) for k, v in self.inner.raw_headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": self.inner.status_code, "headers": headers})
        for start in range(0, len(body), self.chunk_size):
            await send(
                {
                    "type": "http.response.body",
                    "body": body[start : start + self.chunk_size],
                    "more_body": True,
                }
            )
            await asyncio.sleep(self.delay)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


class OversizeResponse(Response):
    """A 200 answer of ``size`` bytes of valid JSON: the real object plus a padding field."""

    def __init__(self, inner: Response, size: int) -> None:
        self.inner = inner
        self.size = size
        super().__init__(content=b"", status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        real = bytes(self.inner.body).strip() or b"{}"
        head = (real[:-1] + b', "padding": "') if real.endswith(b"}") and real != b"{}" else b'{"padding": "'
        tail = b'"}'
        fill = max(0, self.size - len(head) - len(tail))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(head) + fill + len(tail)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": head, "more_body": True})
        block = b"x" * 65536
        while fill > 0:
            part = block[: min(fill, len(block))]
            fill -= len(part)
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": tail, "more_body": False})


def malformed(inner: Response) -> Response:
    """200 with the first half of the real body (never valid JSON), or an HTML error page."""
    body = bytes(inner.body)
    cut = body[: len(body) // 2] if len(body) >= 2 else b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    return Response(cut, status_code=200, media_type="application/json")


def api_endpoint(runtime: EmulatorRuntime, spec: RouteSpec, handler: Handler) -> Callable[[Request], Any]:
    """Wrap ``handler`` in the gateway pipeline (see the module docstring)."""

    async def endpoint(request: Request) -> Response:
        ctx = context(request)
        ctx.route = spec.name
        decision = runtime.faults.decide(spec.name)
        rule = decision.rule
        if decision.delay:
            ctx.fault = "latency"
            await asyncio.sleep(decision.delay)
        if rule is not None:
            ctx.fault = rule.kind
        try:
            if rule is not None and rule.kind in ("status", "throttle"):
                raise fault_error(rule, spec.style)
            if rule is not None and rule.kind in ("drop", "malformed") and not rule.process:
                await _drain(request)
                placeholder = Response(
                    b'{"error_code":"MSS.00000000","error_msg":"ok"}', media_type="application/json"
                )
                return DropResponse(placeholder) if rule.kind == "drop" else malformed(placeholder)
            if decision.expire_token:
                ctx.fault = ctx.fault or "token_expiry"
                token = decoded_headers(request.scope).get("x-auth-token")
                if token:
                    runtime.tokens.expire(token.strip(), runtime.gateway_now())
            if spec.auth in ("iam", "aksk"):
                project = request.path_params.get("project_id") if spec.auth == "iam" else None
                identity = await authenticate(runtime, request, project)
                ctx.auth = identity.kind
                now = runtime.gateway_now()
                runtime.rate_limiter.check(identity.principal, now)
                if spec.auth == "iam":
                    runtime.throttle.check(identity.principal, spec.name, request.method, now)
            elif spec.auth == "presign":
                ctx.auth = "presigned"
            ctx.app_user_id = app_user_id(raw_header(request.scope, b"x-app-userid"))
            response = await handler(request, ctx)
        except ApiError as err:
            ctx.auth_error = err.detail
            response = err.render(ctx.request_id)
        if rule is not None and rule.kind == "drop":
            return DropResponse(response)
        if rule is not None and rule.kind == "malformed":
            return malformed(response)
        if rule is not None and rule.kind == "trickle":
            return TrickleResponse(response, rule.chunk_size, rule.chunk_delay)
        if rule is not None and rule.kind == "oversize":
            return OversizeResponse(response, rule.size)
        return response

    return endpoint


async def _drain(request: Request) -> None:
    async for _ in request.stream():
        pass
