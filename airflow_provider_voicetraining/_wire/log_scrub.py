"""Keeps credentials out of the HTTP libraries' own log lines, at every level.

httpcore logs each exchange at DEBUG, response headers included: the ``X-Subject-Token`` of a
freshly minted IAM token would reach a DEBUG log before anything could register it with
Airflow's masker, and a server may echo any credential in any header (``X-Request-Id``), or an
error may quote a request header. httpx logs each request's URL at INFO: a presigned upload URL
carries its signature in the query. A filter on those loggers rewrites such records before any
handler sees them: sensitive header values, URL queries and every known secret value
(:data:`~.secrets.EVERY_SECRET`, by value, not by header name, and any run of 10 or more of
their characters: an echo cut short) become ``***``.
"""

from __future__ import annotations

import logging
import re

from airflow_provider_voicetraining._wire.secrets import EVERY_SECRET

#: The loggers httpx and httpcore write to (httpcore's are per module).
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)
_SENSITIVE_HEADERS = re.compile(
    rb"(\(b'(?:x-subject-token|x-auth-token|authorization|x-security-token|proxy-authorization)',\s*b')"
    rb"[^']*(')",
    re.IGNORECASE,
)
_URL_QUERY = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*")


def scrub(text: str) -> str:
    """``text`` with sensitive header values and URL queries replaced by ``***``."""
    raw = text.encode("utf-8", "surrogateescape")
    raw = _SENSITIVE_HEADERS.sub(rb"\1***\2", raw)
    cleaned = _URL_QUERY.sub(r"\1?***", raw.decode("utf-8", "surrogateescape"))
    return EVERY_SECRET.hide_fragments(EVERY_SECRET(cleaned) or cleaned)


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = _ScrubFilter()


def scrub_http_library_logs() -> None:
    """Attach the filter to every httpx/httpcore logger (idempotent)."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
