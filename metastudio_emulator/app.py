"""Assembles the ASGI application: voice API, IAM, OBS uploads, control plane.

Unknown paths answer like API Gateway (404 ``APIG.0101``; a known path with another method is
also "API not found" there, since an API is identified by method + path). Unexpected
exceptions become 500 ``MSS.00000002``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from metastudio_emulator.asset_routes import AssetApi
from metastudio_emulator.config import EmulatorConfig
from metastudio_emulator.control_routes import ControlApi
from metastudio_emulator.gateway import (
    SCOPE_KEY,
    RequestContext,
    RequestContextMiddleware,
    install_log_filter,
)
from metastudio_emulator.iam import IamApi
from metastudio_emulator.obs import ObsApi
from metastudio_emulator.responses import (
    API_NOT_FOUND,
    INTERNAL,
    error_response,
    json_response,
)
from metastudio_emulator.runtime import EmulatorRuntime
from metastudio_emulator.voice_routes import VoiceApi


def _request_id(request: Request) -> str:
    ctx: RequestContext | None = request.scope.get(SCOPE_KEY)
    return ctx.request_id if ctx else ""


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    ctx: RequestContext | None = request.scope.get(SCOPE_KEY)
    if request.url.path.startswith("/_emulator/"):
        if ctx:
            ctx.control = True
        return json_response(
            {"error": f"no control route {request.method} {request.url.path}"}, status=status
        )
    if ctx and ctx.route is None:
        ctx.route = "unmatched"
    return error_response(
        404,
        API_NOT_FOUND,
        "The API does not exist or has not been published in the environment.",
        _request_id(request),
        style="apig",
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error_response(500, INTERNAL, "Internal server error.", _request_id(request))


def build_app(
    config: EmulatorConfig, runtime: EmulatorRuntime | None = None
) -> tuple[ASGIApp, EmulatorRuntime]:
    """Return ``(asgi_app, runtime)``; the runtime is the app's whole state."""
    install_log_filter()
    rt = runtime or EmulatorRuntime(config)
    routes = [
        *VoiceApi(rt).routes(),
        *AssetApi(rt).routes(),
        *IamApi(rt).routes(),
        *ObsApi(rt).routes(),
        *ControlApi(rt).routes(),
    ]
    starlette = Starlette(
        routes=routes,
        exception_handlers={404: _http_error, 405: _http_error, Exception: _internal_error},
    )
    return RequestContextMiddleware(starlette, rt), rt
