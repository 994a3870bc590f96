"""The OBS-like bucket behind the presigned URLs: ``PUT /_obs/{job_id}/{object}``.

Objects and the Content-Type each accepts (reference 2.1, 2.7):

* ``data.zip`` -> ``application/zip`` (the PACKAGE; short jobs' assessment data too);
* ``segments/{i}.wav`` -> ``audio/wav``, ``segments/{i}.txt`` -> ``text/plain`` (SEGMENT mode);
* ``authorization/letter`` and ``review/{n}`` -> any type.

A bad or expired presign signature answers 403, a wrong Content-Type 400, both with OBS-style
XML; success is 200 with an ``ETag`` (quoted MD5) and no body. Only metadata is stored.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from metastudio_emulator.gateway import (
    RequestContext,
    RouteSpec,
    api_endpoint,
    query_dict,
)
from metastudio_emulator.responses import ApiError
from metastudio_emulator.runtime import EmulatorRuntime
from metastudio_emulator.uploads import StreamingInspector, UploadInfo, UploadTooLarge

_SEGMENT = re.compile(r"^segments/(\d{1,4})\.(wav|txt)$")
_REVIEW = re.compile(r"^review/(\d{1,4})$")


def _obs_error(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message, style="obs", detail=code)


def classify_object(key: str) -> tuple[str, int | None, tuple[str, ...] | None]:
    """``(target, index, accepted content types or None for any)`` of an object key."""
    if key == "data.zip":
        return "package", None, ("application/zip",)
    m = _SEGMENT.match(key)
    if m:
        index = int(m.group(1))
        if m.group(2) == "wav":
            return "audio", index, ("audio/wav", "audio/x-wav", "audio/wave")
        return "text", index, ("text/plain",)
    if key == "authorization/letter":
        return "letter", None, None
    m = _REVIEW.match(key)
    if m:
        return "attachment", int(m.group(1)), None
    raise _obs_error(404, "NoSuchKey", f"The object {key} is not an upload target of this job.")


class ObsApi:
    def __init__(self, runtime: EmulatorRuntime) -> None:
        self.rt = runtime

    async def _drain(self, request: Request) -> None:
        async for _ in request.stream():
            pass

    async def upload(self, request: Request, ctx: RequestContext) -> Response:
        job_id = request.path_params["job_id"]
        key = request.path_params["key"]
        q = query_dict(request)
        problem = self.rt.presigner.check(
            request.scope["path"], q.get("Expires"), q.get("Signature"), self.rt.gateway_now()
        )
        try:
            if problem == "SignatureDoesNotMatch":
                raise _obs_error(
                    403,
                    problem,
                    "The request signature we calculated does not match the signature you provided.",
                )
            if problem is not None:
                raise _obs_error(
                    403, "AccessDenied", "Request has expired or carries no valid presign signature."
                )
            rec = self.rt.store.jobs.get(job_id)
            if rec is None:
                raise _obs_error(404, "NoSuchKey", f"The job {job_id} does not exist (deleted?).")
            target, index, accepted = classify_object(key)
            content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if accepted is not None and content_type not in accepted:
                raise _obs_error(
                    400,
                    "InvalidArgument",
                    f"Content-Type must be {accepted[0]} for {key}, got {content_type or 'none'}.",
                )
        except ApiError:
            await self._drain(request)
            raise
        inspector = StreamingInspector(want_zip=key == "data.zip", max_bytes=self.rt.config.max_upload_bytes)
        try:
            async for chunk in request.stream():
                if chunk:
                    inspector.feed(chunk)
        except UploadTooLarge as exc:
            inspector.finish()
            raise _obs_error(400, "EntityTooLarge", str(exc)) from None
        size, md5, is_zip, members = inspector.finish()
        info = UploadInfo(
            object_key=f"{job_id}/{key}",
            content_type=content_type,
            size=size,
            md5=md5,
            uploaded_at=self.rt.now(),
            sequence=self.rt.store.next_upload_sequence(),
            is_zip=is_zip,
            members=members,
        )
        rec.record_upload(target, index, info)
        return Response(
            b"",
            status_code=200,
            headers={"ETag": f'"{md5}"', "x-obs-request-id": ctx.request_id},
        )

    def routes(self) -> list[Route]:
        endpoint = api_endpoint(self.rt, RouteSpec("obs_upload", auth="presign", style="obs"), self.upload)
        return [Route("/_obs/{job_id}/{key:path}", endpoint, methods=["PUT"], name="obs_upload")]
