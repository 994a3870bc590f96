"""IAM tokens for ``auth_type=password``: minted once, shared by every hook in the process.

A thousand deferred waits on one triggerer must not mint a thousand tokens: the cache is keyed
by the credentials (a digest, never the password) and minting is single-flight per key, with a
thread lock for sync callers and an asyncio lock per event loop for async ones. Tokens are
refreshed :data:`REFRESH_MARGIN` seconds before ``expires_at``, and dropped on a 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
import weakref
from dataclasses import dataclass

import pendulum

from airflow_provider_voicetraining._wire.exchange import ApiCall, WireResponse
from airflow_provider_voicetraining._wire.secrets import Secret
from airflow_provider_voicetraining._wire.settings import ConnectionSettings

#: Refresh a token this long before it expires (tokens last 24 h).
REFRESH_MARGIN = 300.0
#: If IAM omits ``expires_at``, assume this lifetime (conservative; tokens last 24 h).
FALLBACK_LIFETIME = 3600.0


@dataclass(frozen=True)
class IssuedToken:
    token: Secret
    expires_at: float


def cache_key(settings: ConnectionSettings) -> str:
    assert settings.password is not None
    material = json.dumps(
        [
            settings.iam_endpoint,
            settings.domain_name,
            settings.user_name,
            hashlib.sha256(settings.password.reveal().encode()).hexdigest(),
            settings.project_id,
            str(settings.verify),
        ]
    )
    return hashlib.sha256(material.encode()).hexdigest()


def _decode_token(response: WireResponse) -> IssuedToken:
    value = response.headers.get_ci("X-Subject-Token")
    if not value or any(c in value for c in "\r\n ") or not value.isascii():
        raise ValueError("IAM answered without a usable X-Subject-Token header")
    expires_at = time.time() + FALLBACK_LIFETIME
    try:
        raw = response.object().get("token", {}).get("expires_at")
        if isinstance(raw, str) and len(raw) <= 64:
            expires_at = min(pendulum.parse(raw).timestamp(), expires_at + 2 * 86400)  # type: ignore[union-attr]
    except (ValueError, AttributeError, TypeError, OverflowError):
        pass
    return IssuedToken(Secret(value), expires_at)


def token_call(settings: ConnectionSettings) -> ApiCall[IssuedToken]:
    """``POST /v3/auth/tokens?nocatalog=true`` with a project-scoped password identity."""
    assert settings.password is not None
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": settings.user_name,
                        "password": settings.password.reveal(),
                        "domain": {"name": settings.domain_name},
                    }
                },
            },
            "scope": {"project": {"id": settings.project_id}},
        }
    }
    return ApiCall(
        operation="iam_tokens",
        method="POST",
        path="/v3/auth/tokens",
        query=(("nocatalog", "true"),),
        body=json.dumps(body).encode(),
        target="iam",
        ok_status=frozenset({201}),
        content_type="application/json;charset=utf8",
        decode=_decode_token,
    )


class TokenCache:
    """Process-wide token store (one instance: :data:`TOKENS`)."""

    def __init__(self) -> None:
        self._entries: dict[str, IssuedToken] = {}
        self._guard = threading.Lock()
        self._thread_locks: dict[str, threading.Lock] = {}
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
            weakref.WeakKeyDictionary()
        )

    def valid(self, key: str, now: float | None = None) -> Secret | None:
        with self._guard:
            entry = self._entries.get(key)
        if entry and entry.expires_at - REFRESH_MARGIN > (time.time() if now is None else now):
            return entry.token
        return None

    def store(self, key: str, issued: IssuedToken) -> None:
        with self._guard:
            self._entries[key] = issued

    def drop(self, key: str, token: Secret) -> None:
        """Forget ``token`` unless another caller already replaced it."""
        with self._guard:
            entry = self._entries.get(key)
            if entry is not None and entry.token == token:
                del self._entries[key]

    def clear(self) -> None:
        """Forget every token (tests and benchmarks start from a cold cache)."""
        with self._guard:
            self._entries.clear()

    def thread_lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def loop_lock(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            locks = self._loop_locks.setdefault(loop, {})
            return locks.setdefault(key, asyncio.Lock())


TOKENS = TokenCache()
