"""The voice-training endpoints as :class:`ApiCall` values, shared by the sync and async hook.

Each function validates its arguments (before anything is sent), builds the path from
validated pieces only, and says how to decode the answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
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

#: edition -> (create path segment, job_type)
EDITIONS: dict[str, tuple[str, str]] = {
    "basic": ("basic-jobs", "BASIC"),
    "middle": ("middle-jobs", "MIDDLE"),
    "advance": ("advance-jobs", "ADVANCE"),
    "third_party": ("third-party-jobs", "THIRD_PARTY"),
}
SEXES = ("FEMALE", "MALE")
LANGUAGES = ("CN", "EN")
TAGS = ("ECOMMERCE", "NEWS", "MARKETING", "LIVE", "EDUCATION", "CUSTOMER", "STORYTELLING")
CREATE_TYPES = ("PACKAGE", "SEGMENT")
SUPPORTED_SERVICES = ("VIDEO_2D", "LIVE_2D", "CHAT_2D")
JOB_TYPES = ("BASIC", "MIDDLE", "ADVANCE", "THIRD_PARTY", "THIRD_PARTY_LJZN", "FLEXUS")
SORT_KEYS = ("create_time", "update_time")
SORT_DIRS = ("asc", "desc")
MAX_PAGE = 100


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


def show_job(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[VoiceTrainingJob]:
    job_id = check.job_id(job_id)
    return ApiCall(
        operation="show_job",
        method="GET",
        path=_path(settings, "user", "jobs", job_id),
        app_user_id=check.app_user_id(app_user_id),
        decode=_decode_job,
    )


def delete_job(settings: ConnectionSettings, job_id: str, app_user_id: str | None = None) -> ApiCall[None]:
    job_id = check.job_id(job_id)
    return ApiCall(
        operation="delete_job",
        method="DELETE",
        path=_path(settings, "user", "jobs", job_id),
        app_user_id=check.app_user_id(app_user_id),
        decode=_decode_empty,
    )


def show_audit_result(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[AuditResult]:
    job_id = check.job_id(job_id)
    return ApiCall(
        operation="show_audit_result",
        method="GET",
        path=_path(settings, "user", "jobs", job_id, "audit-result"),
        app_user_id=check.app_user_id(app_user_id),
        decode=lambda r: AuditResult.from_api(decode_json(r)),
    )


def show_uploading_address(
    settings: ConnectionSettings, job_id: str, app_user_id: str | None = None
) -> ApiCall[UploadUrls]:
    job_id = check.job_id(job_id)
    return ApiCall(
        operation="show_uploading_address",
        method="GET",
        path=_path(settings, "user", "jobs", job_id, "uploading-address-url"),
        app_user_id=check.app_user_id(app_user_id),
        decode=lambda r: UploadUrls.from_address_response(decode_json(r)),
    )


def _body(fields_: Mapping[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in fields_.items() if v is not None}).encode()


def _decode_created(response: WireResponse) -> CreatedJob:
    body = decode_json(response)
    job_id = check.job_id(body.get("job_id"), "job_id in the create response")
    return CreatedJob(job_id=job_id, upload_urls=UploadUrls.from_create_response(body))


def create_job(
    settings: ConnectionSettings,
    edition_name: str,
    *,
    voice_name: str,
    sex: str | None = None,
    language: str | None = None,
    tag: str | None = None,
    description: str | None = None,
    create_type: str | None = None,
    phone: str | None = None,
    dhtms_job_id: str | None = None,
    batch_name: str | None = None,
    output_language: str | None = None,
    custom_text: str | None = None,
    is_ondemand_resource: bool | None = None,
    supported_service: Iterable[str] | None = None,
    app_user_id: str | None = None,
) -> ApiCall[CreatedJob]:
    segment, _ = EDITIONS[edition(edition_name)]
    services = None
    if supported_service is not None:
        if isinstance(supported_service, str):
            supported_service = [supported_service]
        services = [check.choice(s, "supported_service", SUPPORTED_SERVICES) for s in supported_service]
    if is_ondemand_resource is not None and not isinstance(is_ondemand_resource, bool):
        raise VoiceTrainingValidationError(
            "is_ondemand_resource", "must be a boolean", "pass True or False (or leave it unset)"
        )
    body = _body(
        {
            "voice_name": check.text(voice_name, "voice_name", required=True, max_length=256),
            "tag": check.choice(tag, "tag", TAGS),
            "description": check.text(description, "description"),
            "sex": check.choice(sex, "sex", SEXES),
            "language": check.choice(language, "language", LANGUAGES),
            "create_type": check.choice(create_type, "create_type", CREATE_TYPES),
            "phone": check.text(phone, "phone", max_length=32),
            "dhtms_job_id": check.job_id(dhtms_job_id, "dhtms_job_id") if dhtms_job_id else None,
            "batch_name": check.text(batch_name, "batch_name", max_length=256),
            "output_language": check.text(output_language, "output_language", max_length=64),
            "custom_text": check.text(custom_text, "custom_text", max_length=4096),
            "is_ondemand_resource": is_ondemand_resource,
            "supported_service": services,
        }
    )
    return ApiCall(
        operation=f"create_{edition(edition_name)}_job",
        method="POST",
        path=_path(settings, "user", segment),
        body=body,
        app_user_id=check.app_user_id(app_user_id),
        idempotent=False,
        decode=_decode_created,
    )


COMMIT_FIELDS = (
    "tag",
    "description",
    "sex",
    "voice_name",
    "language",
    "phone",
    "app_user_id",
    "output_language",
    "custom_text",
)


def commit_body(overrides: Mapping[str, Any] | None) -> bytes | None:
    """Validate commit metadata overrides; the JSON body to send (None when there is none)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(COMMIT_FIELDS))
    if unknown:
        raise VoiceTrainingValidationError(
            "commit overrides", f"{unknown} are not commit fields", f"use only {list(COMMIT_FIELDS)}"
        )
    body = _body(
        {
            "tag": check.choice(overrides.get("tag"), "tag", TAGS),
            "description": check.text(overrides.get("description"), "description"),
            "sex": check.choice(overrides.get("sex"), "sex", SEXES),
            "voice_name": check.text(overrides.get("voice_name"), "voice_name", max_length=256),
            "language": check.choice(overrides.get("language"), "language", LANGUAGES),
            "phone": check.text(overrides.get("phone"), "phone", max_length=32),
            "app_user_id": check.app_user_id(overrides.get("app_user_id"), "app_user_id (commit body)"),
            "output_language": check.text(overrides.get("output_language"), "output_language", max_length=64),
            "custom_text": check.text(overrides.get("custom_text"), "custom_text", max_length=4096),
        }
    )
    return body if body != b"{}" else None


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
            voice_name=check.text(voice_name, "voice_name", max_length=256),
            batch_name=check.text(batch_name, "batch_name", max_length=256),
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
    offset = check.bounded_int(offset, "offset", minimum=0, maximum=2147483647, default=0)
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
