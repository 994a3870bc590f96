"""The endpoint catalogue: each voice-training endpoint as an :class:`~.exchange.ApiCall` builder.

Each builder checks its arguments before anything is sent, builds the path from checked pieces
only (each segment percent-encoded) and says how to decode the answer; the hook's methods map
one to one onto them (docs/hook.md lists the endpoints). ``P`` below is
``/v1/{project_id}/voice-training-manage``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining._wire.exchange import ApiCall, FileBody, WireResponse
from airflow_provider_voicetraining._wire.limits import MAX_PAGE_BODY, MAX_SERVER_CODE
from airflow_provider_voicetraining._wire.listing import JobFilters
from airflow_provider_voicetraining._wire.models import (
    AuditResult,
    CreatedJob,
    JobPage,
    TrainingQuotas,
    UploadUrls,
    VoiceTrainingJob,
)
from airflow_provider_voicetraining._wire.settings import ConnectionSettings
from airflow_provider_voicetraining._wire.vocabulary import (
    COMMIT_FIELDS,
    CREATE_FIELDS,
    CREATE_TYPES,
    EDITIONS,
    LANGUAGES,
    MAX_INT,
    MAX_PAGE,
    SEXES,
    SHORT_JOB_TYPES,
    SUPPORTED_SERVICES,
    TAGS,
    TEXT_LIMITS,
)

T = TypeVar("T")


#: Characters ``quote(..., safe="")`` leaves alone: a segment made only of these is its own encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _segment(value: str) -> str:
    """``quote(value, safe="")``, skipping the call for the usual already-safe ids."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def _path(settings: ConnectionSettings, *segments: str) -> str:
    tail = "/".join(_segment(s) for s in segments)
    return f"/v1/{_segment(settings.project_id)}/voice-training-manage/{tail}"


def _job_decoder(asked: str) -> Callable[[WireResponse], VoiceTrainingJob]:
    """Decode a show-job answer, which must be about the job asked for."""

    def decode(response: WireResponse) -> VoiceTrainingJob:
        job = VoiceTrainingJob.from_api(response.object())
        if job.job_id != asked:
            raise ValueError(
                f"asked for job {asked}, the answer is about job {job.job_id}: not used "
                "(a proxy or cache in between may mix up answers)"
            )
        return job

    return decode


def _decode_acknowledgement(response: WireResponse) -> None:
    """Commits and deletes answer an empty body (or a JSON object): anything else is not their
    answer (a gateway that garbled it may never have passed the request on), so the call is
    retried, and a retry refused because the first attempt went through is recognised."""
    response.object()


def _job_call(
    settings: ConnectionSettings,
    operation: str,
    method: str,
    job_id: str,
    app_user_id: str | None,
    decode: Callable[[WireResponse], T],
    *tail: str,
    collection: str = "jobs",
) -> ApiCall[T]:
    """A call on ``.../user/{collection}/{job_id}[/tail]``, its job id and app user checked first."""
    job_id = check.job_id(job_id)
    return ApiCall(
        operation=operation,
        method=method,
        path=_path(settings, "user", collection, job_id, *tail),
        app_user_id=check.app_user_id(app_user_id),
        decode=decode,
    )


def show_job(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[VoiceTrainingJob]:
    return _job_call(settings, "show_job", "GET", job_id, app_user_id, _job_decoder(job_id))


def delete_job(settings: ConnectionSettings, job_id: str, app_user_id: str | None = None) -> ApiCall[None]:
    return _job_call(settings, "delete_job", "DELETE", job_id, app_user_id, _decode_acknowledgement)


def show_audit_result(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[AuditResult]:
    return _job_call(
        settings,
        "show_audit_result",
        "GET",
        job_id,
        app_user_id,
        lambda r: AuditResult.from_api(r.object()),
        "audit-result",
    )


def show_upload_urls(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[UploadUrls]:
    return _job_call(
        settings,
        "show_uploading_address",
        "GET",
        job_id,
        app_user_id,
        lambda r: UploadUrls.from_address_response(r.object()),
        "uploading-address-url",
    )


def _body(fields_: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in fields_.items() if v is not None}).encode()


def _decode_created(response: WireResponse) -> CreatedJob:
    body = response.object()
    job_id = check.job_id(body.get("job_id"), "job_id in the create response")
    return CreatedJob(job_id=job_id, upload_urls=UploadUrls.from_create_response(body))


def _text(name: str, *, required: bool = False) -> Any:
    return lambda value: check.text(value, name, required=required, max_length=TEXT_LIMITS[name])


def _choice(name: str, allowed: tuple[str, ...]) -> Any:
    return lambda value: check.choice(value, name, allowed)


def _services(value: object) -> list[str | None] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise VoiceTrainingValidationError(
            "supported_service", "is not a list", f"use {list(SUPPORTED_SERVICES)}"
        )
    return [check.choice(s, "supported_service", SUPPORTED_SERVICES) for s in items]


def _flag(value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise VoiceTrainingValidationError(
            "is_ondemand_resource", "must be a boolean", "pass True or False (or leave it unset)"
        )
    return value


#: Every body field of create (``CreateTrainingJobReq``) and commit (``CommitJobReq``), with
#: its check; in the SDK's field order (the order the body is serialized in).
BODY_FIELDS: dict[str, Any] = {
    "voice_name": _text("voice_name"),
    "tag": _choice("tag", TAGS),
    "description": _text("description"),
    "sex": _choice("sex", SEXES),
    "language": _choice("language", LANGUAGES),
    "create_type": _choice("create_type", CREATE_TYPES),
    "phone": _text("phone"),
    "dhtms_job_id": lambda value: check.job_id(value, "dhtms_job_id") if value else None,
    "batch_name": _text("batch_name"),
    "app_user_id": lambda value: check.app_user_id(value, "app_user_id (commit body)"),
    "output_language": _text("output_language"),
    "custom_text": _text("custom_text"),
    "is_ondemand_resource": _flag,
    "supported_service": _services,
}


def _checked_body(fields: Mapping[str, Any], allowed: tuple[str, ...], what: str) -> bytes | None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise VoiceTrainingValidationError(what, f"{unknown} are not {what}", f"use only {list(allowed)}")
    checked = {name: BODY_FIELDS[name](fields[name]) for name in BODY_FIELDS if name in fields}
    body = _body(checked)
    return body if body != b"{}" else None


def create_job(
    settings: ConnectionSettings,
    edition_name: str,
    *,
    voice_name: str,
    app_user_id: str | None = None,
    **fields: Any,
) -> ApiCall[CreatedJob]:
    """Create a job of an edition; ``fields`` are the optional :data:`CREATE_FIELDS`."""
    spec = EDITIONS[check.edition(edition_name)]
    check.text(voice_name, "voice_name", required=True, max_length=TEXT_LIMITS["voice_name"])
    body = _checked_body(
        {"voice_name": voice_name, **fields}, ("voice_name", *CREATE_FIELDS), "create fields"
    )
    return ApiCall(
        operation=spec.operation,
        method="POST",
        path=_path(settings, "user", spec.path),
        body=body,
        app_user_id=check.app_user_id(app_user_id),
        idempotent=False,
        decode=_decode_created,
    )


def commit_body(overrides: Mapping[str, Any] | None) -> bytes | None:
    """Validate commit metadata overrides; the JSON body to send (None when there is none)."""
    return _checked_body(dict(overrides or {}), COMMIT_FIELDS, "commit overrides")


def commit_job(
    settings: ConnectionSettings,
    job_id: str,
    overrides: Mapping[str, Any] | None = None,
    app_user_id: str | None = None,
) -> ApiCall[None]:
    """Commit (``POST .../user/jobs/{job_id}``); ``overrides`` may change the job's metadata."""
    job_id = check.job_id(job_id)
    return ApiCall(
        operation="commit_job",
        method="POST",
        path=_path(settings, "user", "jobs", job_id),
        body=commit_body(overrides),
        app_user_id=check.app_user_id(app_user_id),
        decode=_decode_acknowledgement,
    )


def _decode_page(response: WireResponse) -> JobPage:
    body = response.object()
    count = body.get("count")
    jobs = body.get("jobs")
    if isinstance(count, bool) or not isinstance(count, int) or not isinstance(jobs, list):
        raise ValueError("the job list has no integer count or no jobs array")
    if not all(isinstance(j, dict) for j in jobs):
        raise ValueError("the job list holds an entry that is not an object")
    return JobPage(count=count, jobs=tuple(_listed_jobs(jobs, getattr(body, "unparsed", {}))))


def _listed_jobs(jobs: list[dict[str, Any]], unparsed: Mapping[str, str]) -> list[VoiceTrainingJob]:
    """The jobs of a page, each with the values the decoder could not read in it."""
    per_job: dict[int, dict[str, str]] = {}
    for path, text in unparsed.items():
        parts = path.split(".", 2)
        if len(parts) == 3 and parts[0] == "jobs" and parts[1].isdigit():
            per_job.setdefault(int(parts[1]), {})[parts[2]] = text
    return [VoiceTrainingJob.from_api(job, per_job.get(i, {})) for i, job in enumerate(jobs)]


def list_jobs_page(
    settings: ConnectionSettings,
    filters: JobFilters,
    *,
    offset: int = 0,
    limit: int = MAX_PAGE,
    app_user_id: str | None = None,
) -> ApiCall[JobPage]:
    offset = check.bounded_int(offset, "offset", minimum=0, maximum=MAX_INT, default=0)
    limit = check.bounded_int(limit, "limit", minimum=1, maximum=MAX_PAGE, default=MAX_PAGE)
    return ApiCall(
        operation="list_jobs",
        method="GET",
        path=_path(settings, "user", "jobs"),
        query=(*filters.query(), ("offset", str(offset)), ("limit", str(limit))),
        app_user_id=check.app_user_id(app_user_id),
        decode=_decode_page,
        max_body=MAX_PAGE_BODY,
    )


def show_quotas(settings: ConnectionSettings) -> ApiCall[TrainingQuotas]:
    """``GET P/quotas`` (one page of resources; ``resource_available_nums`` is the tenant's total)."""
    return ApiCall(
        operation="show_quotas",
        method="GET",
        path=_path(settings, "quotas"),
        query=(("offset", "0"), ("limit", str(MAX_PAGE))),
        decode=lambda r: TrainingQuotas.from_api(r.object()),
    )


def _decode_short_created(response: WireResponse) -> CreatedJob:
    body = response.object()
    job_id = check.job_id(body.get("job_id"), "job_id in the create_short_job response")
    url = body.get("data_uploading_url")
    return CreatedJob(job_id=job_id, upload_urls=UploadUrls(training_data_uploading_url=_str(url)))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def create_short_job(
    settings: ConnectionSettings,
    *,
    language: str | None = None,
    app_user_id: str | None = None,
    job_type: str = "VOICE_ASSESS",
) -> ApiCall[CreatedJob]:
    """Create a short job (the recording check, ``VOICE_ASSESS``); not repeated on an unknown outcome."""
    body = {
        "job_type": check.choice(job_type, "job_type", SHORT_JOB_TYPES),
        "language": check.choice(language, "language", LANGUAGES),
    }
    return ApiCall(
        operation="create_short_job",
        method="POST",
        path=_path(settings, "user", "short-jobs"),
        body=_body(body),
        app_user_id=check.app_user_id(app_user_id),
        idempotent=False,
        decode=_decode_short_created,
    )


def commit_short_job(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[None]:
    """Commit a short job (no body): the check starts."""
    return _job_call(
        settings,
        "commit_short_job",
        "POST",
        job_id,
        app_user_id,
        _decode_acknowledgement,
        collection="short-jobs",
    )


def show_short_job(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[VoiceTrainingJob]:
    """``GET P/user/short-jobs/{job_id}``: state and ``assess_result``, in the job model."""
    return _job_call(
        settings, "show_short_job", "GET", job_id, app_user_id, _job_decoder(job_id), collection="short-jobs"
    )


def presigned_url(value: object, field_name: str = "upload URL") -> str:
    """Check a presigned URL from the service before sending a file to it."""
    if not isinstance(value, str) or not value:
        raise VoiceTrainingValidationError(
            field_name,
            "is missing from the service's answer",
            "call get_upload_urls(job_id) to obtain fresh URLs",
        )
    parts = urlsplit(value)
    check.endpoint(f"{parts.scheme}://{parts.netloc}", field_name)
    if any(c in value for c in "\r\n \t"):
        raise VoiceTrainingValidationError(
            field_name, "contains whitespace", "use the URL exactly as returned"
        )
    return value


def upload(url: str | None, body: FileBody | bytes, content_type: str) -> ApiCall[str | None]:
    """PUT a file to a presigned (OBS) URL; returns the ``ETag``. Idempotent: retried fully."""
    url = presigned_url(url)
    return ApiCall(
        operation="upload_training_data",
        method="PUT",
        path=url,
        body=body,
        target="absolute",
        content_type=content_type,
        decode=lambda r: (r.headers.get_ci("ETag") or "")[:MAX_SERVER_CODE] or None,
    )
