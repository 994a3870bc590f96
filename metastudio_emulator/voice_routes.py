"""The MetaStudio voice-training routes (reference endpoints 1-12, 16, 19-21).

Handlers run after the gateway (:mod:`.gateway`) has authenticated the request; they only
validate, touch the store and shape JSON like the service does (success 200, business
errors 400 ``{error_code, error_msg}``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from airflow_provider_voicetraining._wire.vocabulary import EDITIONS, MAX_INT, MAX_PAGE, MAX_SEGMENT_INDEX
from metastudio_emulator import lifecycle
from metastudio_emulator import store as views
from metastudio_emulator.gateway import (
    RequestContext,
    RouteSpec,
    api_endpoint,
    base_url,
    query_dict,
)
from metastudio_emulator.request_checks import (
    int_param,
    parse_json_body,
    require,
    validate_commit,
    validate_create,
    validate_list,
    validate_short_create,
)
from metastudio_emulator.responses import empty_response, json_response, not_found
from metastudio_emulator.runtime import EmulatorRuntime
from metastudio_emulator.store import JobRecord

PREFIX = "/v1/{project_id}/voice-training-manage"


class VoiceApi:
    def __init__(self, runtime: EmulatorRuntime) -> None:
        self.rt = runtime

    # -- helpers -----------------------------------------------------------------------------

    def _job(self, request: Request, ctx: RequestContext, kind: str = "voice") -> JobRecord:
        job_id = request.path_params["job_id"]
        rec = self.rt.store.get(job_id, kind, request.path_params["project_id"], ctx.app_user_id)
        if rec is None:
            raise not_found(job_id, self.rt.config.unknown_job_status)
        return rec

    def _presign(self, request: Request, path: str) -> str:
        expires = int(self.rt.gateway_now() + self.rt.config.presign_ttl_seconds)
        return self.rt.presigner.url(base_url(request), path, expires)

    def _segment_urls(self, request: Request, rec: JobRecord) -> dict[str, list[str]]:
        edition = lifecycle.edition_of(rec.job_type)
        count = edition.sentences if edition.segment_uploads and edition.sentences else 0
        return {
            "audio_uploading_url": [
                self._presign(request, f"/_obs/{rec.job_id}/segments/{i}.wav") for i in range(count)
            ],
            "txt_uploading_url": [
                self._presign(request, f"/_obs/{rec.job_id}/segments/{i}.txt") for i in range(count)
            ],
        }

    # -- endpoints 1-4: create ---------------------------------------------------------------

    def create(self, job_type: str) -> Any:
        async def handler(request: Request, ctx: RequestContext) -> Response:
            body = parse_json_body(await request.body(), required=True)
            meta = validate_create(body, job_type)
            rec = self.rt.store.create_voice(
                request.path_params["project_id"], ctx.app_user_id, job_type, meta, self.rt.now()
            )
            return json_response(
                {
                    "job_id": rec.job_id,
                    "training_data_uploading_url": self._presign(request, f"/_obs/{rec.job_id}/data.zip"),
                    "segment_uploading_url": self._segment_urls(request, rec),
                    "authorization_letter_uploading_url": self._presign(
                        request, f"/_obs/{rec.job_id}/authorization/letter"
                    ),
                }
            )

        return handler

    # -- endpoint 5: commit ------------------------------------------------------------------

    async def commit(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        overrides = validate_commit(parse_json_body(await request.body(), required=False))
        self.rt.store.commit(
            rec, overrides, self.rt.now(), gate=lambda: self.rt.quotas.check_commit(self.rt.store, rec)
        )
        return empty_response()

    # -- endpoints 6-8: list, show, delete ---------------------------------------------------

    async def list_jobs(self, request: Request, ctx: RequestContext) -> Response:
        q = validate_list(query_dict(request))
        now = self.rt.now()
        count, page = self.rt.store.query(request.path_params["project_id"], ctx.app_user_id, q, now)
        url = base_url(request)
        return json_response({"count": count, "jobs": [views.voice_view(r, now, url) for r in page]})

    async def show(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        return json_response(views.voice_view(rec, self.rt.now(), base_url(request)))

    async def delete(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        self.rt.store.jobs.pop(rec.job_id, None)
        return empty_response()

    # -- endpoints 9-12 ----------------------------------------------------------------------

    async def audit_result(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        return json_response(views.audit_view(rec, self.rt.now()))

    async def uploading_address(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        return json_response(
            {
                "segment_url": self._segment_urls(request, rec),
                "package_url": {
                    "training_data_uploading_url": self._presign(request, f"/_obs/{rec.job_id}/data.zip")
                },
                "authorization_letter_uploading_url": self._presign(
                    request, f"/_obs/{rec.job_id}/authorization/letter"
                ),
            }
        )

    async def review_attachment_address(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        q = query_dict(request)
        start = int_param(q, "start_number", 1, 0, MAX_SEGMENT_INDEX)
        end = int_param(q, "end_number", start, 0, MAX_SEGMENT_INDEX)
        require(end >= start, "Invalid parameter end_number: must not be smaller than start_number.")
        require(end - start < 100, "Invalid parameter end_number: at most 100 addresses per request.")
        return json_response(
            {
                "addresses": [
                    {"number": n, "uploading_url": self._presign(request, f"/_obs/{rec.job_id}/review/{n}")}
                    for n in range(start, end + 1)
                ]
            }
        )

    async def op_logs(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx)
        q = query_dict(request)
        offset = int_param(q, "offset", 0, 0, MAX_INT)
        limit = int_param(q, "limit", 10, 1, MAX_PAGE)
        ops = views.op_logs(rec, self.rt.now())
        return json_response({"count": len(ops), "operations": ops[offset : offset + limit]})

    # -- endpoint 16: quotas -----------------------------------------------------------------

    async def quotas(self, request: Request, ctx: RequestContext) -> Response:
        q = query_dict(request)
        offset = int_param(q, "offset", 0, 0, MAX_INT)
        limit = int_param(q, "limit", 10, 1, MAX_PAGE)
        available, resources = self.rt.quotas.view(self.rt.store, request.path_params["project_id"])
        return json_response(
            {
                "count": len(resources),
                "resource_available_nums": available,
                "resources": resources[offset : offset + limit],
            }
        )

    # -- endpoints 19-21: short jobs ---------------------------------------------------------

    async def create_short(self, request: Request, ctx: RequestContext) -> Response:
        fields = validate_short_create(parse_json_body(await request.body(), required=True))
        rec = self.rt.store.create_short(
            request.path_params["project_id"],
            ctx.app_user_id,
            fields["job_type"],
            fields["language"],
            self.rt.now(),
        )
        return json_response(
            {
                "job_id": rec.job_id,
                "data_uploading_url": self._presign(request, f"/_obs/{rec.job_id}/data.zip"),
            }
        )

    async def commit_short(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx, "short")
        await request.body()
        self.rt.store.commit(rec, {}, self.rt.now())
        return empty_response()

    async def show_short(self, request: Request, ctx: RequestContext) -> Response:
        rec = self._job(request, ctx, "short")
        return json_response(views.short_view(rec, self.rt.now()))

    # -- routing -----------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        def r(method: str, path: str, name: str, handler: Any) -> Route:
            endpoint = api_endpoint(self.rt, RouteSpec(name), handler)
            return Route(PREFIX + path, endpoint, methods=[method], name=name)

        out = [r("POST", f"/user/{e.path}", e.operation, self.create(e.job_type)) for e in EDITIONS.values()]
        out += [
            r("POST", "/user/jobs/{job_id}", "commit_job", self.commit),
            r("GET", "/user/jobs", "list_jobs", self.list_jobs),
            r("GET", "/user/jobs/{job_id}", "show_job", self.show),
            r("DELETE", "/user/jobs/{job_id}", "delete_job", self.delete),
            r("GET", "/user/jobs/{job_id}/audit-result", "show_audit_result", self.audit_result),
            r(
                "GET",
                "/user/jobs/{job_id}/uploading-address-url",
                "show_uploading_address",
                self.uploading_address,
            ),
            r(
                "GET",
                "/user/jobs/{job_id}/review-attachment-uploading-address-url",
                "show_review_attachment_address",
                self.review_attachment_address,
            ),
            r("GET", "/user/jobs/{job_id}/op-logs", "list_op_logs", self.op_logs),
            r("GET", "/quotas", "show_quotas", self.quotas),
            r("POST", "/user/short-jobs", "create_short_job", self.create_short),
            r("POST", "/user/short-jobs/{job_id}", "commit_short_job", self.commit_short),
            r("GET", "/user/short-jobs/{job_id}", "show_short_job", self.show_short),
        ]
        return out
