"""The asset library's ``ShowAsset`` (``GET /v1/{project_id}/digital-assets/{asset_id}``), for
the voices the emulator trained: what a pipeline reads right after training, through
``VoiceTrainingHook.get_conn()``. Authenticated by the gateway like every API route; an
unknown asset (or one of a job not yet ``SUCCEED``) answers 404 ``MSS.00000001``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from metastudio_emulator import store as views
from metastudio_emulator.gateway import RequestContext, RouteSpec, api_endpoint
from metastudio_emulator.responses import asset_not_found, json_response
from metastudio_emulator.runtime import EmulatorRuntime


class AssetApi:
    def __init__(self, runtime: EmulatorRuntime) -> None:
        self.rt = runtime

    async def show(self, request: Request, ctx: RequestContext) -> Response:
        asset_id = request.path_params["asset_id"]
        now = self.rt.now()
        rec = self.rt.store.trained_voice(asset_id, request.path_params["project_id"], ctx.app_user_id, now)
        if rec is None:
            raise asset_not_found(asset_id)
        return json_response(views.asset_view(rec, now))

    def routes(self) -> list[Route]:
        endpoint = api_endpoint(self.rt, RouteSpec("show_asset"), self.show)
        path = "/v1/{project_id}/digital-assets/{asset_id}"
        return [Route(path, endpoint, methods=["GET"], name="show_asset")]
