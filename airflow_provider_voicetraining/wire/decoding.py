"""Reading answers: JSON bodies and the service's ``error_code`` / ``error_msg``.

Pure functions of the bytes received; the request flow turns their ``ValueError`` into a retry
or a :class:`~.errors.VoiceTrainingResponseError`.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_voicetraining.wire.exchange import WireResponse


def decode_json(response: WireResponse) -> dict[str, Any]:
    """A JSON object body, or ``{}`` for the documented empty 200s (commit, delete)."""
    if not response.body.strip():
        return {}
    data = json.loads(response.body)
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def extract_error(body: bytes) -> tuple[str | None, str | None]:
    """``(error_code, error_msg)`` the way the official SDK reads them: ``error_code/error_msg``,
    ``errorCode/errorMsg``, ``code/message``, or one nested object holding one of those pairs;
    for a body that is not JSON, its text as the message."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return None, (text[:300] or None)
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
