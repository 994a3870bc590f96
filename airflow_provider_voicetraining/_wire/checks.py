"""Input checks that run before anything is sent.

Every value that ends up in a URL or a header passes through one of these functions first,
and each failure names the field, what is wrong and how to fix it. Secret values are never
echoed back.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from urllib.parse import urlsplit

from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining._wire.vocabulary import EDITIONS, TEXT_LIMITS

# Patterns are applied with ``fullmatch``: ``$`` also matches before a trailing newline, so
# ``"abc\n"`` would pass a ``match(r"^...$")`` (and be sent as ``abc%0A``).
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_ACCESS_KEY = re.compile(r"[A-Za-z0-9]{8,128}")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: Control characters (C0, DEL, C1) and lone surrogates: never part of a field's value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

MAX_APP_USER_ID = TEXT_LIMITS["app_user_id"]
MAX_SECRET = 16384
MAX_TEXT = 1024


def _preview(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def control_problem(value: str) -> str | None:
    """What is wrong with the control characters in ``value`` (None: it has none).

    Names the first one and where it is: a trailing newline is a character too.
    """
    found = _CONTROL.search(value)
    if found is None:
        return None
    char, at = found.group(), found.start()
    where = "at the end" if at == len(value) - 1 else f"at position {at}"
    if char in "\r\n":
        what = "a line break (CR/LF)"
    elif 0xD800 <= ord(char) <= 0xDFFF:
        what = "a lone surrogate (not a character)"
    else:
        what = f"the control character {char!r}"
    return f"contains {what} {where}"


def _problem_chars(value: str) -> str | None:
    problem = control_problem(value)
    if problem:
        return problem
    if not value.isascii():
        return "contains non-ASCII characters, which HTTP headers cannot carry"
    return None


_NO_CONTROLS = "remove line breaks, tabs and other control characters (check how the value was templated)"


def edition(value: object) -> str:
    """An edition name (``basic``, ``middle``, ``advance``, ``third_party``; ``-`` may be ``_``)."""
    normalized = str(value).strip().lower().replace("-", "_") if isinstance(value, str) else None
    if isinstance(value, str) and control_problem(value):
        normalized = None
    if normalized not in EDITIONS:
        choices = ", ".join(f"{e.name} ({e.summary})" for e in EDITIONS.values())
        raise VoiceTrainingValidationError(
            "edition", f"{_preview(value)} is not a voice-training edition", f"use one of {choices}"
        )
    return normalized


def job_id(value: object, field: str = "job_id") -> str:
    if not isinstance(value, str):
        raise VoiceTrainingValidationError(
            field, f"must be a string, got {type(value).__name__}", "pass the job_id returned by create_job"
        )
    if not value:
        raise VoiceTrainingValidationError(field, "is empty", "pass the job_id returned by create_job")
    if len(value) > 128:
        raise VoiceTrainingValidationError(
            field, f"is {len(value)} characters long (max 128)", "pass the job_id returned by create_job"
        )
    if not _JOB_ID.fullmatch(value):
        problem_chars = control_problem(value)
        if problem_chars:
            problem = f"{_preview(value)} {problem_chars}"
        elif "/" in value or "\\" in value or ".." in value:
            problem = f"{_preview(value)} contains a path separator or '..'"
        else:
            problem = f"{_preview(value)} contains characters outside A-Z a-z 0-9 - _"
        raise VoiceTrainingValidationError(
            field,
            problem,
            "pass the job_id returned by create_job, e.g. 26f06524-4f75-4b3a-a853-b649a21aaf66 "
            "(check that a template rendered to the id, not to a path or a list)",
        )
    return value


def is_identifier(value: object) -> bool:
    """Whether ``value`` has the shape of a job id or an asset id (A-Z a-z 0-9 - _, max 128)."""
    return isinstance(value, str) and _JOB_ID.fullmatch(value) is not None


def is_app_user_id(value: object) -> bool:
    """Whether ``value`` could be an end user's id (at most the header's length, no control characters)."""
    return isinstance(value, str) and len(value) <= MAX_APP_USER_ID and control_problem(value) is None


def asset_id(value: object, field: str = "asset_id") -> str:
    """A voice's ``asset_id`` (what a SUCCEED job returns): the job id's character set."""
    if not isinstance(value, str) or not _JOB_ID.fullmatch(value):
        raise VoiceTrainingValidationError(
            field,
            f"{_preview(value)} is not an asset id",
            "use the asset_id of a SUCCEED job (A-Z a-z 0-9 - _, max 128 characters)",
        )
    return value


def project_id(value: object, field: str = "project_id") -> str:
    fix = (
        "set the connection extra project_id to the project id of the region "
        "(IAM console > My Credentials > Projects), e.g. 0123456789abcdef0123456789abcdef"
    )
    if value is None or value == "":
        raise VoiceTrainingValidationError(field, "is missing", fix)
    if not isinstance(value, str) or not _PROJECT_ID.fullmatch(value):
        problem = control_problem(value) if isinstance(value, str) else None
        raise VoiceTrainingValidationError(
            field, f"{_preview(value)} {problem or 'is not a project id'}", fix
        )
    return value


def app_user_id(value: object, field: str = "app_user_id") -> str | None:
    """``X-App-UserId``: optional, ASCII, no CR/LF (the service also forbids Chinese)."""
    if value is None:
        return None
    fix = (
        "use the end user's ASCII identifier (no line breaks, no Chinese characters), "
        f"max {MAX_APP_USER_ID} characters"
    )
    if not isinstance(value, str):
        raise VoiceTrainingValidationError(field, f"must be a string, got {type(value).__name__}", fix)
    if value == "":
        raise VoiceTrainingValidationError(field, "is empty", "pass None to send no X-App-UserId, or " + fix)
    if len(value) > MAX_APP_USER_ID:
        raise VoiceTrainingValidationError(field, f"is {len(value)} characters long", fix)
    problem = _problem_chars(value)
    if problem:
        raise VoiceTrainingValidationError(field, problem, fix)
    if value != value.strip():
        raise VoiceTrainingValidationError(field, "has leading or trailing whitespace", fix)
    return value


def region(value: object, field: str = "region") -> str:
    fix = "use a Huawei Cloud region id such as cn-north-4, cn-east-3 or ap-southeast-3"
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        problem = control_problem(value) if isinstance(value, str) else None
        raise VoiceTrainingValidationError(field, f"{_preview(value)} {problem or 'is not a region id'}", fix)
    return value


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def endpoint(value: object, field: str = "endpoint") -> str:
    """Normalize a base URL: ``https://host[:port]``; plain ``http://`` only for loopback hosts.

    Returns scheme://host[:port] without a trailing slash; default ports are dropped so the
    ``Host`` header we sign equals the one the server sees.
    """
    fix = "use https://host[:port] (plain http:// is accepted only for 127.0.0.1, ::1 or localhost)"
    if not isinstance(value, str) or not value.strip():
        raise VoiceTrainingValidationError(field, "is empty or not a string", fix)
    problem = _problem_chars(value)
    if problem:
        raise VoiceTrainingValidationError(field, problem, fix)
    text = value.strip()
    problem = _problem_chars(text)
    if problem:
        raise VoiceTrainingValidationError(field, problem, fix)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise VoiceTrainingValidationError(field, f"{_preview(text)} is not a URL ({exc})", fix) from None
    if parts.scheme not in ("http", "https"):
        raise VoiceTrainingValidationError(field, f"{_preview(text)} has no http(s) scheme", fix)
    host = parts.hostname or ""
    if not host:
        raise VoiceTrainingValidationError(field, f"{_preview(text)} has no host", fix)
    if parts.username or parts.password:
        raise VoiceTrainingValidationError(
            field, "contains credentials (user:password@)", "put credentials in login/password, not the URL"
        )
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise VoiceTrainingValidationError(
            field, f"{_preview(text)} has a path, query or fragment", "give only scheme://host[:port]"
        )
    loopback = is_loopback_host(host)
    if parts.scheme == "http" and not loopback:
        raise VoiceTrainingValidationError(
            field,
            f"plain http:// to the remote host {host!r} would send credentials unencrypted",
            "use https://",
        )
    if not loopback:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
                raise VoiceTrainingValidationError(field, f"{host!r} is not a valid host name", fix) from None
    default_port = 443 if parts.scheme == "https" else 80
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default_port:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}"


def url_template(value: object, field: str, placeholder: str) -> str | None:
    """An optional http(s) URL holding ``placeholder`` (e.g. ``{job_id}``) exactly once."""
    if value is None or value == "":
        return None
    fix = f"give an http(s) URL containing {placeholder}, e.g. https://host/jobs/{placeholder}"
    if not isinstance(value, str) or value.count(placeholder) != 1:
        raise VoiceTrainingValidationError(
            field, f"{_preview(value)} does not contain {placeholder} once", fix
        )
    problem = _problem_chars(value) or (None if len(value) <= MAX_TEXT else "is too long")
    text = value.strip()
    if problem:
        raise VoiceTrainingValidationError(field, problem, fix)
    parts = urlsplit(text.replace(placeholder, "job"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise VoiceTrainingValidationError(field, f"{_preview(text)} is not an http(s) URL", fix)
    return text


def verify(value: object, field: str = "verify") -> bool | str:
    """``true``/``false`` or the path of a readable CA bundle (file or directory)."""
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        problem = control_problem(value)
        if problem:
            raise VoiceTrainingValidationError(
                field, problem, "give true, false or the path of a PEM CA bundle"
            )
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        path = os.path.expanduser(value.strip())
        if not os.path.exists(path):
            raise VoiceTrainingValidationError(
                field,
                f"the CA bundle path {_preview(value)} does not exist",
                "give true, false, or the path of a PEM CA bundle readable on every Airflow worker "
                "and triggerer",
            )
        if not os.access(path, os.R_OK):
            raise VoiceTrainingValidationError(
                field, f"the CA bundle path {_preview(value)} is not readable", "fix its permissions"
            )
        return path
    raise VoiceTrainingValidationError(
        field, f"must be true, false or a path, got {type(value).__name__}", "give true, false or a path"
    )


def positive_number(
    value: object, field: str, *, maximum: float, default: float, minimum: float = 0.0
) -> float:
    """A number of seconds in ``(0, maximum]`` (and ``>= minimum``); ``default`` when unset."""
    if value is None or value == "":
        return default
    fix = f"give seconds between {max(minimum, 0.01):g} and {maximum:g}"
    if isinstance(value, bool):
        raise VoiceTrainingValidationError(field, "is a boolean", fix)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise VoiceTrainingValidationError(field, f"{_preview(value)} is not a number", fix) from None
    if math.isnan(number) or not (0 < number <= maximum and number >= minimum):
        raise VoiceTrainingValidationError(field, f"{number:g} is out of range", fix)
    return number


def bounded_int(value: object, field: str, *, minimum: int, maximum: int, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise VoiceTrainingValidationError(field, "is a boolean", f"give an integer {minimum}..{maximum}")
    try:
        number = int(str(value))
    except ValueError:
        raise VoiceTrainingValidationError(
            field, f"{_preview(value)} is not an integer", f"give an integer {minimum}..{maximum}"
        ) from None
    if not minimum <= number <= maximum:
        raise VoiceTrainingValidationError(
            field, f"{number} is out of range", f"give an integer {minimum}..{maximum}"
        )
    return number


def access_key(value: object, field: str = "login (AK)") -> str:
    fix = "set the connection login to the Access Key ID (letters and digits, e.g. 20 characters)"
    if not value:
        raise VoiceTrainingValidationError(field, "is missing", fix)
    if not isinstance(value, str) or not _ACCESS_KEY.fullmatch(value):
        # never the value: an AK identifies the account
        problem = "is not an access key (letters and digits only)"
        controls = control_problem(value) if isinstance(value, str) else None
        if controls:
            problem = f"{problem}: it {controls}"
        raise VoiceTrainingValidationError(field, problem, fix)
    return value


def secret(value: object, field: str, fix: str) -> str:
    """Secrets travel in headers (tokens) or as HMAC keys: printable ASCII, no whitespace around."""
    if not value:
        raise VoiceTrainingValidationError(field, "is missing", fix)
    if not isinstance(value, str):
        raise VoiceTrainingValidationError(field, "must be a string", fix)
    if len(value) > MAX_SECRET:
        raise VoiceTrainingValidationError(field, f"is {len(value)} characters long", fix)
    problem = _problem_chars(value)
    if problem:
        raise VoiceTrainingValidationError(field, problem, fix)
    if value != value.strip() or " " in value:
        raise VoiceTrainingValidationError(field, "contains spaces", fix)
    return value


def text(value: object, field: str, *, required: bool = False, max_length: int = MAX_TEXT) -> str | None:
    """Free text that goes into a JSON body (never a header or URL)."""
    if value is None:
        if required:
            raise VoiceTrainingValidationError(field, "is missing", f"give a non-empty {field}")
        return None
    if not isinstance(value, str):
        raise VoiceTrainingValidationError(
            field, f"must be a string, got {type(value).__name__}", f"give a string {field}"
        )
    if required and not value.strip():
        raise VoiceTrainingValidationError(field, "is empty", f"give a non-empty {field}")
    if len(value) > max_length:
        raise VoiceTrainingValidationError(
            field, f"is {len(value)} characters long", f"shorten it to {max_length} characters"
        )
    problem = control_problem(value)
    if problem:
        raise VoiceTrainingValidationError(field, problem, _NO_CONTROLS)
    return value


def choice(value: object, field: str, allowed: frozenset[str] | tuple[str, ...]) -> str | None:
    if value is None:
        return None
    normalized = str(value).strip().upper() if isinstance(value, str) else None
    if isinstance(value, str) and control_problem(value):
        raise VoiceTrainingValidationError(field, control_problem(value) or "", _NO_CONTROLS)
    if normalized is None or normalized not in allowed:
        raise VoiceTrainingValidationError(
            field, f"{_preview(value)} is not one of {sorted(allowed)}", f"use one of {sorted(allowed)}"
        )
    return normalized


def header_safe(value: object, field: str, fix: str) -> str:
    """Any other value that goes into a header (IAM user and domain names go into JSON, but
    keep them sane too)."""
    if not isinstance(value, str) or not value:
        raise VoiceTrainingValidationError(field, "is missing", fix)
    problem = _problem_chars(value)
    if problem:
        raise VoiceTrainingValidationError(field, problem, fix)
    if len(value) > MAX_TEXT:
        raise VoiceTrainingValidationError(field, f"is {len(value)} characters long", fix)
    return value
