"""Error shapes of the three services the emulator stands in for, as one exception type.

MetaStudio answers business errors as ``{"error_code": "MSS...", "error_msg"}``; API Gateway
(auth, throttling, routing) adds ``request_id``; IAM speaks Keystone
(``{"error": {"code", "message", "title"}}``); OBS answers XML. Handlers raise
:class:`ApiError` and the application renders it with the request id of the current request,
so the id in the body always equals the ``X-Request-Id`` header.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

BAD_PARAMETER = "MSS.00000003"
NOT_FOUND = "MSS.00000001"
INTERNAL = "MSS.00000002"
AUTH_FAILED = "APIG.0301"
NOT_AUTHORIZED = "APIG.0302"
THROTTLED = "APIGW.0308"
API_NOT_FOUND = "APIG.0101"
BAD_GATEWAY = "APIG.0201"

IAM_PREFIX = "Incorrect IAM authentication information: "
MSG_VERIFY_FAIL = IAM_PREFIX + "verify aksk signature fail"
MSG_LOCKED = IAM_PREFIX + "AK access failed to reach the limit,forbidden"
MSG_TOKEN = IAM_PREFIX + "decrypt token fail"
MSG_EXPIRED = IAM_PREFIX + "signature expired"
MSG_NO_AUTH = IAM_PREFIX + "no Authorization or X-Auth-Token header"
THROTTLE_MSG = (
    "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second"
)


def msg_unknown_ak(access_key: str) -> str:
    return f"{IAM_PREFIX}Get secretKey failed,ak:{access_key},err:ak not exist"


class ApiError(Exception):
    """An error response. ``style`` picks the body shape: ``mss``, ``apig``, ``iam``, ``obs``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        style: str = "mss",
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.style = style
        self.headers = dict(headers or {})
        #: Why, for the request log only (never sent, never a secret).
        self.detail = detail

    def render(self, request_id: str) -> Response:
        return error_response(self.status, self.code, self.message, request_id, self.style, self.headers)


def bad_request(message: str) -> ApiError:
    return ApiError(400, BAD_PARAMETER, message)


def not_found(job_id: str, status: int = 404) -> ApiError:
    return ApiError(status, NOT_FOUND, f"The job {job_id} does not exist.")


def asset_not_found(asset_id: str) -> ApiError:
    return ApiError(404, NOT_FOUND, f"The asset {asset_id} does not exist.")


def auth_failed(message: str, detail: str | None = None) -> ApiError:
    return ApiError(401, AUTH_FAILED, message, style="apig", detail=detail)


def throttled(limit: int | float, retry_after: float | None) -> ApiError:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(0, int(-(-retry_after // 1))))
    return ApiError(429, THROTTLED, THROTTLE_MSG.format(limit=limit), style="apig", headers=headers)


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as the service sends it."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(payload), status_code=status, headers=headers, media_type="application/json")


def empty_response(status: int = 200) -> Response:
    """The service's "no body" success (create/commit/delete)."""
    return Response(b"", status_code=status, media_type="application/json")


_IAM_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str,
    style: str = "mss",
    headers: dict[str, str] | None = None,
) -> Response:
    if style == "obs":
        body = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId><HostId>emulator</HostId></Error>"
        )
        return Response(body.encode(), status_code=status, headers=headers, media_type="application/xml")
    payload: dict[str, Any]
    if style == "iam":
        title = _IAM_TITLES.get(status, "Error")
        payload = {"error": {"code": status, "message": message, "title": title}}
    elif style == "apig":
        payload = {"error_code": code, "error_msg": message, "request_id": request_id}
    else:
        payload = {"error_code": code, "error_msg": message}
    return json_response(payload, status=status, headers=headers)
