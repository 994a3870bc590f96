"""Request validation the way the service does it: 400 ``MSS.00000003`` naming the bad field.

The official SDK validates nothing client-side, so the emulator is where a typo in an enum or
a ``limit`` of 500 gets caught during offline development. Unknown body fields are ignored
(the service ignores them too); unknown query parameters as well.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_voicetraining._wire.states import KNOWN_STATES
from airflow_provider_voicetraining._wire.vocabulary import (
    CREATE_TYPES,
    JOB_TYPES,
    LANGUAGES,
    MAX_INT,
    MAX_PAGE,
    SEXES,
    SHORT_JOB_TYPES,
    SORT_DIRS,
    SORT_KEYS,
    SUPPORTED_SERVICES,
    TAGS,
    TEXT_LIMITS,
)
from metastudio_emulator.responses import bad_request

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


def parse_json_body(raw: bytes, *, required: bool) -> dict[str, Any]:
    """The body as a JSON object; empty is ``{}`` unless ``required``."""
    if not raw.strip():
        if required:
            raise bad_request("The request body is required and must be a JSON object.")
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def _enum(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise bad_request(f"Invalid parameter {name}: {value!r}; allowed values: {', '.join(allowed)}.")
    return value


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Invalid parameter {name}: must be a string.")
    if len(value) > TEXT_LIMITS[name]:
        raise bad_request(f"Invalid parameter {name}: longer than {TEXT_LIMITS[name]} characters.")
    return value


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in TEXT_LIMITS:
        value = _string(body, name)
        if value is not None:
            out[name] = value
    if "voice_name" in out and not out["voice_name"].strip():
        raise bad_request("Invalid parameter voice_name: must not be empty.")
    for name, allowed in (("sex", SEXES), ("language", LANGUAGES), ("tag", TAGS)):
        value = _enum(body, name, allowed)
        if value is not None:
            out[name] = value
    return out


def validate_create(body: dict[str, Any], job_type: str) -> dict[str, Any]:
    """Validated ``CreateTrainingJobReq`` fields (defaults applied)."""
    if body.get("voice_name") is None:
        raise bad_request("Missing required parameter voice_name.")
    meta = _metadata(body)
    meta.setdefault("sex", "FEMALE")
    meta.setdefault("language", "CN")
    create_type = _enum(body, "create_type", CREATE_TYPES) or "PACKAGE"
    if create_type == "SEGMENT" and job_type not in ("BASIC", "MIDDLE"):
        raise bad_request(f"Invalid parameter create_type: {job_type} jobs accept only PACKAGE uploads.")
    meta["create_type"] = create_type
    ondemand = body.get("is_ondemand_resource")
    if ondemand is not None and not isinstance(ondemand, bool):
        raise bad_request("Invalid parameter is_ondemand_resource: must be true or false.")
    meta["is_ondemand_resource"] = bool(ondemand)
    services = body.get("supported_service")
    if services is not None:
        if not isinstance(services, list) or any(s not in SUPPORTED_SERVICES for s in services):
            raise bad_request(
                f"Invalid parameter supported_service: a list of {', '.join(SUPPORTED_SERVICES)}."
            )
        meta["supported_service"] = list(services)
    return meta


def validate_commit(body: dict[str, Any]) -> dict[str, Any]:
    """Validated ``CommitJobReq`` overrides (all optional)."""
    return _metadata(body)


def validate_short_create(body: dict[str, Any]) -> dict[str, Any]:
    if body.get("job_type") is None:
        raise bad_request("Missing required parameter job_type.")
    job_type = _enum(body, "job_type", SHORT_JOB_TYPES)
    language = _enum(body, "language", LANGUAGES) or "CN"
    return {"job_type": job_type, "language": language}


def app_user_id(raw: bytes | None) -> str | None:
    """``X-App-UserId`` as the SDK sends it (UTF-8 bytes); Chinese characters are refused."""
    if raw is None:
        return None
    value = raw.decode("utf-8", errors="replace").strip()
    if not value:
        return None
    if _CJK.search(value):
        raise bad_request("Invalid header X-App-UserId: Chinese characters are not allowed.")
    if len(value) > TEXT_LIMITS["app_user_id"]:
        raise bad_request(
            f"Invalid header X-App-UserId: longer than {TEXT_LIMITS['app_user_id']} characters."
        )
    return value


def int_param(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Invalid parameter {name}: {raw!r} is not an integer.") from None
    if not low <= value <= high:
        raise bad_request(f"Invalid parameter {name}: {value} is outside {low}-{high}.")
    return value


def _time_param(query: dict[str, str], name: str) -> float | None:
    """A time filter: epoch milliseconds or RFC 3339 (``2021-01-10T08:43:17Z``) -> epoch seconds."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        return int(raw) / 1000.0
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(
            f"Invalid parameter {name}: {raw!r}; use RFC 3339 (2021-01-10T08:43:17Z) or epoch milliseconds."
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


@dataclass
class ListQuery:
    """Validated ``GET P/user/jobs`` parameters."""

    offset: int = 0
    limit: int = 10
    states: frozenset[str] | None = None
    exact: dict[str, str] = field(default_factory=dict)
    create_since: float | None = None
    create_until: float | None = None
    update_since: float | None = None
    update_until: float | None = None
    sort_key: str = "create_time"
    sort_dir: str = "desc"
    is_ondemand_resource: bool | None = None


def validate_list(query: dict[str, str]) -> ListQuery:
    out = ListQuery(
        offset=int_param(query, "offset", 0, 0, MAX_INT),
        limit=int_param(query, "limit", 10, 1, MAX_PAGE),
    )
    if query.get("state"):
        states = frozenset(s.strip() for s in query["state"].split(",") if s.strip())
        unknown = sorted(states - KNOWN_STATES)
        if unknown:
            raise bad_request(f"Invalid parameter state: unknown state(s) {', '.join(unknown)}.")
        out.states = states
    if query.get("job_type") and query["job_type"] not in JOB_TYPES:
        raise bad_request(
            f"Invalid parameter job_type: {query['job_type']!r}; allowed: {', '.join(JOB_TYPES)}."
        )
    if query.get("tag") and query["tag"] not in TAGS:
        raise bad_request(f"Invalid parameter tag: {query['tag']!r}; allowed: {', '.join(TAGS)}.")
    for name in ("job_id", "voice_name", "batch_name", "tag", "job_type"):
        if query.get(name):
            out.exact[name] = query[name]
    out.create_since = _time_param(query, "create_since")
    out.create_until = _time_param(query, "create_until")
    out.update_since = _time_param(query, "update_since")
    out.update_until = _time_param(query, "update_until")
    if query.get("sort_key"):
        if query["sort_key"] not in SORT_KEYS:
            raise bad_request(f"Invalid parameter sort_key: allowed values: {', '.join(SORT_KEYS)}.")
        out.sort_key = query["sort_key"]
    if query.get("sort_dir"):
        if query["sort_dir"].lower() not in SORT_DIRS:
            raise bad_request("Invalid parameter sort_dir: allowed values: asc, desc.")
        out.sort_dir = query["sort_dir"].lower()
    raw = query.get("is_ondemand_resource")
    if raw:
        if raw.lower() not in ("true", "false"):
            raise bad_request("Invalid parameter is_ondemand_resource: must be true or false.")
        out.is_ondemand_resource = raw.lower() == "true"
    return out


def require(condition: bool, message: str) -> None:
    if not condition:
        raise bad_request(message)
