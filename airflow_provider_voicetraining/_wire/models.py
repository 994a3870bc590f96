"""Typed views of API responses, and the one payload shape used across tasks.

Fields follow the official SDK models (``TrainingJobInfo`` and friends, 3.1.219) plus what
older docs list; unknown fields are kept in ``extra`` so nothing the service adds is lost
(the SDK drops unknown enum values; we keep the raw JSON).

``to_dict()`` forms are JSON-safe (XCom, trigger events): datetimes become ISO-8601 strings
and presigned URLs lose their query (a presigned query is a bearer credential).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pendulum

from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire.limits import MAX_EXTRA_FIELDS
from airflow_provider_voicetraining._wire.once import OnceEach
from airflow_provider_voicetraining._wire.states import StateClass, classify
from airflow_provider_voicetraining._wire.vocabulary import ASSESS_PROPERTIES

__all__ = [
    "AuditError",
    "AuditResult",
    "CreatedJob",
    "FailureDetails",
    "JobPage",
    "TrainingQuotas",
    "UploadUrls",
    "VoiceAssessment",
    "VoiceTrainingJob",
]

log = logging.getLogger(__name__)


def epoch_to_datetime(value: Any) -> pendulum.DateTime | None:
    """MetaStudio times are epoch numbers; milliseconds in practice (values above 1e11 are ms)."""
    if value is None or isinstance(value, bool):
        return None
    if type(value) in (int, float, str):
        # A poller sees the same timestamps on every poll: DateTime objects are immutable, so
        # one conversion per distinct value is enough.
        return _cached_epoch_to_datetime(value)
    return _epoch_to_datetime(value)


@functools.lru_cache(maxsize=4096)
def _cached_epoch_to_datetime(value: int | float | str) -> pendulum.DateTime | None:
    return _epoch_to_datetime(value)


def _epoch_to_datetime(value: Any) -> pendulum.DateTime | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:
        number /= 1000.0
    try:
        return pendulum.from_timestamp(number, tz="UTC")
    except (OverflowError, OSError, ValueError):
        return None


def strip_query(url: Any) -> Any:
    if not isinstance(url, str) or "?" not in url:
        return url
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _bool_or_none(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("not a boolean")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(value: Any) -> str | None:
    """Read a string field; control characters become spaces (they reach logs and events)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value if value.isprintable() else _CONTROL.sub(" ", value)


def _int(value: Any) -> int | None:
    number = _int_or_none(value)
    if number is None and value is not None:
        raise ValueError("not an integer")
    return number


def _time(value: Any) -> pendulum.DateTime | None:
    moment = epoch_to_datetime(value)
    if moment is None and value is not None:
        raise ValueError("not an epoch time")
    return moment


def _object(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise ValueError("not an object")


#: the non-essential fields of a job and how each is read; a value that does not read is kept
#: raw in ``VoiceTrainingJob.unparsed`` and the field is None (it never fails the answer)
_JOB_FIELDS: dict[str, Any] = {
    "job_type": _text,
    "voice_name": _text,
    "sex": _text,
    "language": _text,
    "reject_times": _int,
    "job_failed_code": _text,
    "job_failed_reason": _text,
    "create_time": _time,
    "lastupdate_time": _time,
    "voice_authorization_url": _text,
    "create_type": _text,
    "tag": _text,
    "phone": _text,
    "training_input_source_url": _text,
    "dhtms_job_id": _text,
    "batch_name": _text,
    "allocated_resource": _object,
    "output_language": _text,
    "is_remake": _bool_or_none,
    "assess_result": _object,
    "is_ondemand_resource": _bool_or_none,
}
#: the fields downstream tasks act on, each with its documented shape; an answer breaking one
#: is not an answer (``ValueError``: the call fails with a response error)
_STATE = re.compile(r"[\x20-\x7e]{1,64}")
#: how much of a field that did not read is kept (a 5,000-digit number stays a few lines)
_MAX_UNPARSED = 100

_WARNED = OnceEach()


def _raw(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _MAX_UNPARSED else text[: _MAX_UNPARSED - 3] + "..."


def _shape(name: str, value: Any, job_id: str) -> ValueError:
    return ValueError(
        f"the answer for job {job_id} has a {name} that does not have its documented shape "
        f"({type(value).__name__}{'' if not isinstance(value, str) else f' of {len(value)} characters'})"
    )


def _essential(
    body: Mapping[str, Any], unparsed: Mapping[str, str]
) -> tuple[str, str, str | None, str | None]:
    """``job_id``, ``state``, ``asset_id`` and ``app_user_id``, each checked against its shape."""
    job_id = body.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ValueError(
            "the job detail has no job_id" if "job_id" not in unparsed else "the job_id is a number"
        )
    if not check.is_identifier(job_id):
        raise ValueError(
            f"the job_id {job_id[:40]!r} does not have its documented shape (A-Z a-z 0-9 - _, max 128)"
        )
    state = body.get("state")
    if not isinstance(state, str) or not state:
        raise ValueError(f"the job detail of {job_id} has no state")
    if not _STATE.fullmatch(state):
        raise _shape("state", state, job_id)
    asset_id = body.get("asset_id")
    if "asset_id" in unparsed or not (asset_id is None or asset_id == "" or check.is_identifier(asset_id)):
        raise _shape("asset_id", asset_id, job_id)
    app_user_id = body.get("app_user_id")
    if "app_user_id" in unparsed or not (app_user_id is None or check.is_app_user_id(app_user_id)):
        raise _shape("app_user_id", app_user_id, job_id)
    return job_id, state, asset_id or None, app_user_id or None


def _without_queries(value: Any) -> Any:
    """``value`` with the query of every URL in it removed (presigned queries are credentials)."""
    if isinstance(value, str):
        return strip_query(value) if value.startswith(("http://", "https://")) else value
    if isinstance(value, dict):
        return {k: _without_queries(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_queries(v) for v in value]
    return value


def _bounded_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Keep unknown fields verbatim up to :data:`~.limits.MAX_EXTRA_FIELDS` bytes of JSON.

    They travel in XCom and trigger events; beyond the bound the rest is dropped and counted.
    """
    kept: dict[str, Any] = {}
    size = 0
    for key, value in extra.items():
        size += len(key) + len(json.dumps(value, default=str))
        if size > MAX_EXTRA_FIELDS:
            kept["_dropped_fields"] = len(extra) - len(kept)
            break
        kept[key] = value
    return kept


def _warn_unparsed(job_id: str, broken: Mapping[str, str]) -> None:
    """One warning per job and set of fields (a wait reads the same answer on every poll)."""
    if _WARNED.first((job_id, tuple(sorted(broken)))):
        log.warning(
            "The answer for job %s has fields that do not read; they are treated as missing: %s",
            job_id,
            ", ".join(f"{name}={text!r}" for name, text in sorted(broken.items())),
        )


_KNOWN_FIELDS: dict[type[Any], frozenset[str]] = {}


def _known_fields(cls: type[Any]) -> frozenset[str]:
    """Names of the dataclass fields of ``cls`` but ``extra`` (computed once per class)."""
    known = _KNOWN_FIELDS.get(cls)
    if known is None:
        known = _KNOWN_FIELDS[cls] = frozenset(f.name for f in fields(cls)) - {"extra", "unparsed"}
    return known


@dataclass(frozen=True, repr=False)
class VoiceTrainingJob:
    """One voice-training job (``GET .../user/jobs/{job_id}``).

    ``job_id``, ``state``, ``asset_id`` and ``app_user_id`` have their documented shapes (else
    the answer is refused); another field that does not read is None, its raw text in
    ``unparsed``. ``repr`` and :meth:`to_dict` show no URL query (presigned URLs are credentials).
    """

    job_id: str
    state: str
    job_type: str | None = None
    app_user_id: str | None = None
    voice_name: str | None = None
    sex: str | None = None
    language: str | None = None
    reject_times: int | None = None
    asset_id: str | None = None
    job_failed_code: str | None = None
    job_failed_reason: str | None = None
    create_time: pendulum.DateTime | None = None
    lastupdate_time: pendulum.DateTime | None = None
    voice_authorization_url: str | None = None
    create_type: str | None = None
    tag: str | None = None
    phone: str | None = None
    training_input_source_url: str | None = None
    dhtms_job_id: str | None = None
    batch_name: str | None = None
    allocated_resource: dict[str, Any] | None = None
    output_language: str | None = None
    is_remake: bool | None = None
    assess_result: dict[str, Any] | None = None
    is_ondemand_resource: bool | None = None
    #: Fields the service returned that this version does not know, kept verbatim.
    extra: dict[str, Any] = field(default_factory=dict)
    #: Known fields whose value did not read (wrong type, ``1e999``): their raw text, by path.
    unparsed: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}" for name, value in self.to_dict().items() if value not in (None, {}, [])
        )
        return f"VoiceTrainingJob({shown})"

    @property
    def state_class(self) -> StateClass:
        """What the state means for automation (success, failure, needs_action, in_progress)."""
        return classify(self.state)

    @property
    def is_terminal(self) -> bool:
        """Whether the job stopped progressing (succeeded, failed, or waits for a person)."""
        return self.state_class is not StateClass.IN_PROGRESS

    @classmethod
    def from_api(cls, body: Mapping[str, Any], unparsed: Mapping[str, str] | None = None) -> VoiceTrainingJob:
        """Build from the raw JSON body; ``ValueError`` if an essential field is missing or misshapen.

        :param body: the job's JSON object.
        :param unparsed: values the decoder could not read, by path (default: the body's own,
            see :class:`~.decoding.JsonObject`).
        """
        if unparsed is None:
            unparsed = getattr(body, "unparsed", {})
        job_id, state, asset_id, app_user_id = _essential(body, unparsed)
        values: dict[str, Any] = {}
        broken: dict[str, str] = dict(unparsed)
        for name, read in _JOB_FIELDS.items():
            raw = body.get(name)
            if raw is None or (read is _text and type(raw) is str and raw.isprintable()):
                values[name] = raw  # the usual case, without a call
                continue
            try:
                values[name] = read(raw)
            except (TypeError, ValueError, OverflowError):
                values[name] = None
                broken[name] = _raw(raw)
        if broken:
            _warn_unparsed(job_id, broken)
        known = _known_fields(cls)
        return cls(
            job_id=job_id,
            state=state,
            asset_id=asset_id,
            app_user_id=app_user_id,
            extra=_bounded_extra({k: v for k, v in body.items() if k not in known}),
            unparsed=broken,
            **values,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for XCom and trigger events (see the module docstring)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, pendulum.DateTime):
                value = value.to_iso8601_string()
            else:
                value = _without_queries(value)
            out[f.name] = value
        out["state_class"] = self.state_class.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VoiceTrainingJob:
        """Inverse of :meth:`to_dict` (trigger events -> operators)."""
        body = {k: v for k, v in data.items() if k not in ("state_class", "extra", "unparsed")}
        for name in ("create_time", "lastupdate_time"):
            if isinstance(body.get(name), str):
                body[name] = pendulum.parse(body[name]).timestamp() * 1000  # type: ignore[union-attr]
        body.update(data.get("extra") or {})
        return cls.from_api(body, unparsed=data.get("unparsed") or {})


@dataclass(frozen=True)
class AuditError:
    """One file the automatic review refused, and why."""

    audio_name: str | None
    text_name: str | None
    error_code: str | None
    error_message: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe form (XCom, trigger events)."""
        return {
            "audio_name": self.audio_name,
            "text_name": self.text_name,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


@dataclass(frozen=True)
class AuditResult:
    """``GET .../jobs/{job_id}/audit-result``: why a job failed its review, file by file."""

    system_audit_time: pendulum.DateTime | None = None
    errors: tuple[AuditError, ...] = ()
    admin_message: str | None = None
    admin_attachment_name: str | None = None
    admin_audit_time: pendulum.DateTime | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> AuditResult:
        """Build from the ``audit-result`` JSON; ``ValueError`` when its sections are not objects."""
        system = body.get("system_audit_result") or {}
        admin = body.get("admin_audit_result") or {}
        if not isinstance(system, dict) or not isinstance(admin, dict):
            raise ValueError("audit result sections are not objects")
        errors = tuple(
            AuditError(
                audio_name=_str_or_none(e.get("audio_name")),
                text_name=_str_or_none(e.get("text_name")),
                error_code=_str_or_none(e.get("error_code")),
                error_message=_str_or_none(e.get("error_message")),
            )
            for e in system.get("errors") or []
            if isinstance(e, dict)
        )
        return cls(
            system_audit_time=epoch_to_datetime(system.get("audit_time")),
            errors=errors,
            admin_message=_str_or_none(admin.get("message")),
            admin_attachment_name=_str_or_none(admin.get("attachment_name")),
            admin_audit_time=epoch_to_datetime(admin.get("audit_time")),
            raw=dict(body),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe form (XCom, trigger events)."""
        return {
            "system_audit_time": self.system_audit_time.to_iso8601_string()
            if self.system_audit_time
            else None,
            "errors": [e.to_dict() for e in self.errors],
            "admin_message": self.admin_message,
            "admin_attachment_name": self.admin_attachment_name,
            "admin_audit_time": self.admin_audit_time.to_iso8601_string() if self.admin_audit_time else None,
        }


@dataclass(frozen=True)
class UploadUrls:
    """Presigned upload URLs of a job. ``repr`` hides them: a presigned URL is a credential."""

    training_data_uploading_url: str | None = None
    audio_uploading_urls: tuple[str, ...] = ()
    txt_uploading_urls: tuple[str, ...] = ()
    authorization_letter_uploading_url: str | None = None

    def __repr__(self) -> str:
        return (
            f"UploadUrls(training_data={strip_query(self.training_data_uploading_url)!r}, "
            f"audio={len(self.audio_uploading_urls)}, txt={len(self.txt_uploading_urls)}, "
            f"authorization_letter={strip_query(self.authorization_letter_uploading_url)!r})"
        )

    @classmethod
    def from_create_response(cls, body: Mapping[str, Any]) -> UploadUrls:
        """Build from a create answer (``training_data_uploading_url``, ``segment_uploading_url``)."""
        segment = body.get("segment_uploading_url") or {}
        return cls(
            training_data_uploading_url=_str_or_none(body.get("training_data_uploading_url")),
            audio_uploading_urls=tuple(str(u) for u in segment.get("audio_uploading_url") or []),
            txt_uploading_urls=tuple(str(u) for u in segment.get("txt_uploading_url") or []),
            authorization_letter_uploading_url=_str_or_none(body.get("authorization_letter_uploading_url")),
        )

    @classmethod
    def from_address_response(cls, body: Mapping[str, Any]) -> UploadUrls:
        """Build from ``uploading-address-url`` (``package_url``, ``segment_url``)."""
        segment = body.get("segment_url") or {}
        package = body.get("package_url") or {}
        return cls(
            training_data_uploading_url=_str_or_none(package.get("training_data_uploading_url")),
            audio_uploading_urls=tuple(str(u) for u in segment.get("audio_uploading_url") or []),
            txt_uploading_urls=tuple(str(u) for u in segment.get("txt_uploading_url") or []),
            authorization_letter_uploading_url=_str_or_none(body.get("authorization_letter_uploading_url")),
        )


@dataclass(frozen=True, repr=False)
class CreatedJob:
    """Answer of a create call: the new job id and where to upload its data."""

    job_id: str
    upload_urls: UploadUrls

    def __repr__(self) -> str:
        return f"CreatedJob(job_id={self.job_id!r}, upload_urls={self.upload_urls!r})"


@dataclass(frozen=True)
class JobPage:
    """One page of ``GET .../user/jobs``: ``count`` matches in all, ``jobs`` on this page."""

    count: int
    jobs: tuple[VoiceTrainingJob, ...]


@dataclass(frozen=True)
class FailureDetails:
    """The one documented shape of a failed job, used by the sensor, trigger and operators."""

    job_id: str
    state: str
    state_class: str
    job_failed_code: str | None
    job_failed_reason: str | None
    audit_errors: tuple[AuditError, ...] = ()
    admin_audit_message: str | None = None
    console_url: str | None = None

    @classmethod
    def from_job(
        cls, job: VoiceTrainingJob, audit: AuditResult | None = None, console_url: str | None = None
    ) -> FailureDetails:
        """Build from the failed job and, for ``AUDIT_FAILED``, its audit result."""
        return cls(
            job_id=job.job_id,
            state=job.state,
            state_class=job.state_class.value,
            job_failed_code=job.job_failed_code,
            job_failed_reason=job.job_failed_reason,
            audit_errors=audit.errors if audit else (),
            admin_audit_message=audit.admin_message if audit else None,
            console_url=console_url,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the documented JSON-safe dict (XCom ``failure_details``, trigger events)."""
        return {
            "job_id": self.job_id,
            "state": self.state,
            "state_class": self.state_class,
            "job_failed_code": self.job_failed_code,
            "job_failed_reason": self.job_failed_reason,
            "audit_errors": [e.to_dict() for e in self.audit_errors],
            "admin_audit_message": self.admin_audit_message,
            "console_url": self.console_url,
        }

    def summary(self) -> str:
        """Return one line for a person: state, code, reason, the first audit errors, the reviewer."""
        parts = [f"Voice-training job {self.job_id} ended in {self.state}"]
        if self.job_failed_code or self.job_failed_reason:
            parts.append(
                f"({self.job_failed_code or 'no code'}: {self.job_failed_reason or 'no reason given'})"
            )
        if self.audit_errors:
            shown = "; ".join(
                f"{e.audio_name or e.text_name or '?'}: {e.error_code or ''} {e.error_message or ''}".strip()
                for e in self.audit_errors[:5]
            )
            more = f" (+{len(self.audit_errors) - 5} more)" if len(self.audit_errors) > 5 else ""
            parts.append(f"audit errors: {shown}{more}")
        if self.admin_audit_message:
            parts.append(f"reviewer: {self.admin_audit_message}")
        return " ".join(parts)


@dataclass(frozen=True)
class TrainingQuotas:
    """``GET P/quotas``: how many trainings the tenant has left, per counter.

    :param available: ``resource_available_nums``, counter -> trainings left
        (``vocabulary.QUOTA_KEYS``; an edition's counter is ``Edition.quota_key``).
    :param count: total resource records (``count``).
    :param resources: the resource records of this page, verbatim (``VoiceTrainingResource``).
    """

    available: dict[str, int]
    count: int | None = None
    resources: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> TrainingQuotas:
        """Build from the quotas JSON; ``ValueError`` when ``resource_available_nums`` is not an object."""
        nums = body.get("resource_available_nums")
        if not isinstance(nums, dict):
            raise ValueError("the quota answer has no resource_available_nums object")
        available = {str(k): n for k, v in nums.items() if (n := _int_or_none(v)) is not None}
        resources = tuple(r for r in body.get("resources") or [] if isinstance(r, dict))
        return cls(available=available, count=_int_or_none(body.get("count")), resources=resources)


@dataclass(frozen=True)
class VoiceAssessment:
    """What MetaStudio's recording check (a ``VOICE_ASSESS`` short job) found.

    :param job_id: the short job.
    :param passed: every rated property is within its expected range (``status == 0``).
    :param problems: one ``{property, expected, actual, suggestion}`` per property out of range.
    :param suggestion: the service's overall advice.
    :param result: the raw ``assess_result``.
    """

    job_id: str
    passed: bool
    problems: tuple[dict[str, Any], ...]
    suggestion: str | None
    result: dict[str, Any]

    @classmethod
    def from_job(cls, job: VoiceTrainingJob) -> VoiceAssessment:
        """Build from a finished short job; ``ValueError`` when it carries no ``assess_result``."""
        result = job.assess_result
        if not isinstance(result, dict):
            raise ValueError(f"the short job {job.job_id} finished without an assess_result")
        problems = []
        for name in ASSESS_PROPERTIES:
            prop = result.get(name)
            if isinstance(prop, dict) and _int_or_none(prop.get("status")):
                problems.append(
                    {
                        "property": name,
                        "expected": _str_or_none(prop.get("expected")),
                        "actual": _str_or_none(prop.get("actual")),
                        "suggestion": _str_or_none(prop.get("suggestion_en") or prop.get("suggestion")),
                    }
                )
        return cls(
            job_id=job.job_id,
            passed=not problems,
            problems=tuple(problems),
            suggestion=_str_or_none(result.get("suggestion")),
            result=dict(result),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-safe form (the assessment operator's XCom)."""
        return {
            "job_id": self.job_id,
            "passed": self.passed,
            "problems": [dict(p) for p in self.problems],
            "suggestion": self.suggestion,
            "result": dict(self.result),
        }

    def summary(self) -> str:
        """Return one line for a person: what is out of range and what to do."""
        if self.passed:
            return f"Recordings of check {self.job_id} meet the requirements"
        shown = "; ".join(
            f"{p['property']} {p['actual']} (expected {p['expected']}): {p['suggestion'] or 'no advice'}"
            for p in self.problems
        )
        return f"Recordings of check {self.job_id} are out of range: {shown}"
