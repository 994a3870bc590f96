"""The voice-training endpoints as :class:`ApiCall` values, shared by the sync and async hook.

Each function validates its arguments (before anything is sent), builds the path from
validated pieces only, and says how to decode the answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from airflow_provider_voicetraining import validation as check
from airflow_provider_voicetraining.client.core import decode_json
from airflow_provider_voicetraining.client.messages import ApiCall, FileBody, WireResponse
from airflow_provider_voicetraining.connection import ConnectionSettings
from airflow_provider_voicetraining.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining.models import (
    AuditResult,
    CreatedJob,
    JobPage,
    UploadUrls,
    VoiceTrainingJob,
)
from airflow_provider_voicetraining.states import KNOWN_STATES
from airflow_provider_voicetraining.vocabulary import (
    COMMIT_FIELDS,
    CREATE_FIELDS,
    CREATE_TYPES,
    EDITIONS,
    JOB_TYPES,
    LANGUAGES,
    MAX_INT,
    MAX_PAGE,
    SEXES,
    SORT_DIRS,
    SORT_KEYS,
    SUPPORTED_SERVICES,
    TAGS,
    TEXT_LIMITS,
)

T = TypeVar("T")


def edition(value: object) -> str:
    normalized = str(value).strip().lower().replace("-", "_") if isinstance(value, str) else None
    if normalized not in EDITIONS:
        raise VoiceTrainingValidationError(
            "edition",
            f"{value!r} is not a voice-training edition",
            f"use one of {sorted(EDITIONS)} (basic: 20 sentences, middle: 100 sentences, "
            "advance: one long recording, third_party: third-party engine)",
        )
    return normalized


#: Characters ``quote(..., safe="")`` leaves alone: a segment made only of these is its own encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _segment(value: str) -> str:
    """``quote(value, safe="")``, skipping the call for the usual already-safe ids."""
    return value if _UNRESERVED.fullmatch(value) else quote(value, safe="")


def _path(settings: ConnectionSettings, *segments: str) -> str:
    tail = "/".join(_segment(s) for s in segments)
    return f"/v1/{_segment(settings.project_id)}/voice-training-manage/{tail}"


def _decode_job(response: WireResponse) -> VoiceTrainingJob:
    job = VoiceTrainingJob.from_api(decode_json(response))
    check.job_id(job.job_id, "job_id in the response")
    return job


def _decode_empty(response: WireResponse) -> None:
    return None


def _job_call(
    settings: ConnectionSettings,
    operation: str,
    method: str,
    job_id: str,
    app_user_id: str | None,
    decode: Callable[[WireResponse], T],
    *tail: str,
) -> ApiCall[T]:
    """A call on ``.../user/jobs/{job_id}[/tail]``, its job id and app user checked first."""
    job_id = check.job_id(job_id)
    return ApiCall(
        operation=operation,
        method=method,
        path=_path(settings, "user", "jobs", job_id, *tail),
        app_user_id=check.app_user_id(app_user_id),
        decode=decode,
    )


def show_job(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[VoiceTrainingJob]:
    return _job_call(settings, "show_job", "GET", job_id, app_user_id, _decode_job)


def delete_job(settings: ConnectionSettings, job_id: str, app_user_id: str | None = None) -> ApiCall[None]:
    return _job_call(settings, "delete_job", "DELETE", job_id, app_user_id, _decode_empty)


def show_audit_result(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[AuditResult]:
    return _job_call(
        settings,
        "show_audit_result",
        "GET",
        job_id,
        app_user_id,
        lambda r: AuditResult.from_api(decode_json(r)),
        "audit-result",
    )


def show_uploading_address(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[UploadUrls]:
    return _job_call(
        settings,
        "show_uploading_address",
        "GET",
        job_id,
        app_user_id,
        lambda r: UploadUrls.from_address_response(decode_json(r)),
        "uploading-address-url",
    )


def _body(fields_: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in fields_.items() if v is not None}).encode()


def _decode_created(response: WireResponse) -> CreatedJob:
    body = decode_json(response)
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
    name = edition(edition_name)
    check.text(voice_name, "voice_name", required=True, max_length=TEXT_LIMITS["voice_name"])
    body = _checked_body(
        {"voice_name": voice_name, **fields}, ("voice_name", *CREATE_FIELDS), "create fields"
    )
    return ApiCall(
        operation=f"create_{name}_job",
        method="POST",
        path=_path(settings, "user", EDITIONS[name][0]),
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
        decode=_decode_empty,
    )


def _time_filter(value: object, field_name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise VoiceTrainingValidationError(
                field_name, "is a naive datetime", "pass a timezone-aware datetime (e.g. pendulum.now('UTC'))"
            )
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise VoiceTrainingValidationError(
        field_name, f"{value!r} is not a time", "pass an aware datetime or a string"
    )


@dataclass(frozen=True)
class JobFilters:
    """Filters of ``GET .../user/jobs`` (all optional; ``state`` may hold several states)."""

    state: tuple[str, ...] = ()
    job_type: str | None = None
    voice_name: str | None = None
    batch_name: str | None = None
    tag: str | None = None
    job_id: str | None = None
    create_since: str | None = None
    create_until: str | None = None
    update_since: str | None = None
    update_until: str | None = None
    sort_key: str | None = "create_time"
    sort_dir: str | None = "asc"
    is_ondemand_resource: bool | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def build(
        cls,
        *,
        state: str | Iterable[str] | None = None,
        job_type: str | None = None,
        voice_name: str | None = None,
        batch_name: str | None = None,
        tag: str | None = None,
        job_id: str | None = None,
        create_since: object = None,
        create_until: object = None,
        update_since: object = None,
        update_until: object = None,
        sort_key: str | None = "create_time",
        sort_dir: str | None = "asc",
        is_ondemand_resource: bool | None = None,
    ) -> JobFilters:
        states: tuple[str, ...] = ()
        if state is not None:
            raw = state.split(",") if isinstance(state, str) else list(state)
            states = tuple(str(s).strip().upper() for s in raw if str(s).strip())
            for s in states:
                if not s.replace("_", "").isalnum() or not s.isascii():
                    raise VoiceTrainingValidationError(
                        "state",
                        f"{s!r} is not a state name",
                        f"use states such as {sorted(KNOWN_STATES)[:4]}",
                    )
        if sort_key is not None and sort_key not in SORT_KEYS:
            raise VoiceTrainingValidationError(
                "sort_key", f"{sort_key!r} is not supported", f"use {SORT_KEYS}"
            )
        if sort_dir is not None and sort_dir not in SORT_DIRS:
            raise VoiceTrainingValidationError(
                "sort_dir", f"{sort_dir!r} is not supported", f"use {SORT_DIRS}"
            )
        if is_ondemand_resource is not None and not isinstance(is_ondemand_resource, bool):
            raise VoiceTrainingValidationError(
                "is_ondemand_resource", "must be a boolean", "pass True or False"
            )
        return cls(
            state=states,
            job_type=check.choice(job_type, "job_type", JOB_TYPES),
            voice_name=BODY_FIELDS["voice_name"](voice_name),
            batch_name=BODY_FIELDS["batch_name"](batch_name),
            tag=check.choice(tag, "tag", TAGS),
            job_id=check.job_id(job_id) if job_id is not None else None,
            create_since=_time_filter(create_since, "create_since"),
            create_until=_time_filter(create_until, "create_until"),
            update_since=_time_filter(update_since, "update_since"),
            update_until=_time_filter(update_until, "update_until"),
            sort_key=sort_key,
            sort_dir=sort_dir,
            is_ondemand_resource=is_ondemand_resource,
        )

    def query(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        if self.state:
            pairs.append(("state", ",".join(self.state)))
        for name in (
            "job_type",
            "voice_name",
            "batch_name",
            "tag",
            "job_id",
            "create_since",
            "create_until",
            "update_since",
            "update_until",
            "sort_key",
            "sort_dir",
        ):
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, str(value)))
        if self.is_ondemand_resource is not None:
            pairs.append(("is_ondemand_resource", "true" if self.is_ondemand_resource else "false"))
        return pairs


def _decode_page(response: WireResponse) -> JobPage:
    body = decode_json(response)
    count = body.get("count")
    jobs = body.get("jobs")
    if not isinstance(count, int) or not isinstance(jobs, list):
        raise ValueError("the job list has no integer count or no jobs array")
    return JobPage(count=count, jobs=tuple(VoiceTrainingJob.from_api(j) for j in jobs))


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
    )


@dataclass
class Pager:
    """Offset pagination shared by the sync and async listers: ``offset += len(page)`` until
    ``count`` is reached, a page comes back empty, or ``max_items`` were yielded."""

    settings: ConnectionSettings
    filters: JobFilters
    page_size: int = MAX_PAGE
    max_items: int | None = None
    app_user_id: str | None = None
    offset: int = 0
    yielded: int = 0
    done: bool = False

    def next_call(self) -> ApiCall[JobPage] | None:
        if self.done:
            return None
        return list_jobs_page(
            self.settings,
            self.filters,
            offset=self.offset,
            limit=self.page_size,
            app_user_id=self.app_user_id,
        )

    def accept(self, page: JobPage) -> list[VoiceTrainingJob]:
        jobs = list(page.jobs)
        if self.max_items is not None:
            jobs = jobs[: max(0, self.max_items - self.yielded)]
        self.yielded += len(jobs)
        self.offset += len(page.jobs)
        if (
            not page.jobs
            or self.offset >= page.count
            or (self.max_items is not None and self.yielded >= self.max_items)
        ):
            self.done = True
        return jobs


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


def upload(url: str, body: FileBody | bytes, content_type: str) -> ApiCall[str | None]:
    """PUT a file to a presigned (OBS) URL; returns the ``ETag``. Idempotent: retried fully."""
    url = presigned_url(url)
    return ApiCall(
        operation="upload_training_data",
        method="PUT",
        path=url,
        body=body,
        target="absolute",
        content_type=content_type,
        decode=lambda r: r.headers.get_ci("ETag"),
    )
