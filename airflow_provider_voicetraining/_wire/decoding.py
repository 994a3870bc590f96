"""Reading answers: JSON bodies and the service's ``error_code`` / ``error_msg``.

Pure functions of the bytes received. Every way a body can be wrong ends in ``ValueError``
(which the request flow turns into a retry or a :class:`~.errors.VoiceTrainingResponseError`):
invalid UTF-8 or JSON, nesting deeper than :data:`~.limits.MAX_JSON_DEPTH` (never a
``RecursionError``), non-finite or absurd numbers (``1e999``, ``NaN``: never an
``OverflowError`` later), a body cut at its size cap.
"""

from __future__ import annotations

import json
import math
from typing import Any

from airflow_provider_voicetraining._wire.limits import MAX_JSON_DEPTH


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]!r} is not finite")
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((v, depth + 1) for v in children if isinstance(v, dict | list))


def parse_json(body: bytes) -> Any:
    """Parse ``body`` strictly: finite numbers, bounded depth; ``ValueError`` otherwise."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    _check_depth(value)
    return value


def decode_object(body: bytes, truncated: bool = False) -> dict[str, Any]:
    """A JSON object body, or ``{}`` for the documented empty 200s (commit, delete)."""
    if truncated:
        raise ValueError("the answer is larger than the provider accepts for this call")
    if not body.strip():
        return {}
    data = parse_json(body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def extract_error(body: bytes) -> tuple[str | None, str | None]:
    """``(error_code, error_msg)`` the way the official SDK reads them.

    ``error_code/error_msg``, ``errorCode/errorMsg``, ``code/message``, or one nested object
    holding one of those pairs; for a body that is not JSON, its text as the message. Values
    are returned whole: the caller bounds and redacts them.
    """
    try:
        data = parse_json(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return None, (text or None)
    if not isinstance(data, dict):
        return None, None
    candidates = [data] + [v for v in data.values() if isinstance(v, dict)]
    for item in candidates:
        for code_key, msg_key in (
            ("error_code", "error_msg"),
            ("errorCode", "errorMsg"),
            ("code", "message"),
        ):
            if code_key in item or msg_key in item:
                code = item.get(code_key)
                msg = item.get(msg_key)
                return (None if code is None else str(code)), (None if msg is None else str(msg))
    return None, None
