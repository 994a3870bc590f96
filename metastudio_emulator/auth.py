"""What API Gateway and IAM check before a request reaches MetaStudio (reference section 4).

* AK/SK: the signature is recomputed from the request *as received* (raw wire path, raw query,
  received header values, raw body) with :func:`airflow_provider_voicetraining._wire.signing.verify`,
  which compares in constant time. ``X-Sdk-Date`` and ``host`` must be signed and the date must
  be within 15 minutes of the gateway clock. Five consecutive signature failures lock the AK
  for five minutes (both configurable); the sixth and later requests are refused even when
  correctly signed, until the lock expires. A temporary AK must sign ``X-Security-Token``.
* Tokens: only tokens issued by this instance (IAM route or control route), before their
  expiry, scoped to the path's project. Tokens are kept as SHA-256 digests, never in clear.
* Nothing here logs or stores a secret: failures carry a ``detail`` for the request log that
  names the rule that failed, never a key, signature, password or token.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_provider_voicetraining._wire import signing
from metastudio_emulator.responses import (
    MSG_EXPIRED,
    MSG_LOCKED,
    MSG_NO_AUTH,
    MSG_TOKEN,
    MSG_VERIFY_FAIL,
    NOT_AUTHORIZED,
    ApiError,
    auth_failed,
    msg_unknown_ak,
    throttled,
)


@dataclass(frozen=True)
class Identity:
    """Who a request authenticated as. ``principal`` keys rate limits; it is never logged."""

    kind: str  # "aksk", "aksk_temporary" or "token"
    principal: str
    project_ids: frozenset[str]


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: raw path and query, headers lowercased (values UTF-8 decoded)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class KeyPair:
    secret_key: str
    security_token: str | None = None


@dataclass
class _Lock:
    failures: int = 0
    locked_until: float = 0.0


class AkSkVerifier:
    """Server-side ``SDK-HMAC-SHA256`` verification with skew window and lockout."""

    def __init__(
        self,
        keys: Mapping[str, KeyPair],
        project_ids: frozenset[str],
        *,
        max_skew_seconds: float = signing.MAX_CLOCK_SKEW,
        lockout_threshold: int = 5,
        lockout_seconds: float = 300.0,
    ) -> None:
        self._keys = dict(keys)
        self._projects = project_ids
        self.max_skew_seconds = max_skew_seconds
        self.lockout_threshold = lockout_threshold
        self.lockout_seconds = lockout_seconds
        self._locks: dict[str, _Lock] = {}

    def reset(self) -> None:
        self._locks.clear()

    def locked(self, access_key: str, now: float) -> bool:
        """Whether ``access_key`` is locked at gateway time ``now`` (epoch seconds)."""
        lock = self._locks.get(access_key)
        if lock is None or lock.locked_until == 0.0:
            return False
        if now >= lock.locked_until:
            self._locks.pop(access_key, None)
            return False
        return True

    def _fail(self, access_key: str, detail: str, now: float) -> ApiError:
        lock = self._locks.setdefault(access_key, _Lock())
        lock.failures += 1
        if self.lockout_threshold > 0 and lock.failures >= self.lockout_threshold:
            lock.locked_until = now + self.lockout_seconds
        return auth_failed(MSG_VERIFY_FAIL, detail)

    def verify(self, req: SignedRequest, now: float) -> Identity:
        """Authenticate ``req`` at gateway time ``now`` (epoch seconds) or raise 401."""
        header = req.headers.get("authorization", "")
        try:
            auth = signing.parse_authorization(header)
        except ValueError:
            raise auth_failed(MSG_VERIFY_FAIL, "malformed Authorization header") from None
        if auth.algorithm != signing.ALGORITHM:
            raise auth_failed(MSG_VERIFY_FAIL, f"unsupported algorithm {auth.algorithm[:32]!r}")
        pair = self._keys.get(auth.access_key)
        if pair is None:
            raise auth_failed(msg_unknown_ak(auth.access_key), "unknown access key")
        if self.locked(auth.access_key, now):
            raise auth_failed(MSG_LOCKED, "access key locked after repeated failures")
        signed = set(auth.signed_headers)
        date = req.headers.get("x-sdk-date")
        if date is None or "x-sdk-date" not in signed:
            raise self._fail(auth.access_key, "X-Sdk-Date missing or not signed", now)
        if "host" not in signed:
            raise self._fail(auth.access_key, "host not signed", now)
        try:
            sent_at = signing.parse_sdk_date(date.strip())
        except ValueError:
            raise self._fail(auth.access_key, "X-Sdk-Date malformed", now) from None
        if abs(now - sent_at) > self.max_skew_seconds:
            raise auth_failed(MSG_EXPIRED, f"X-Sdk-Date {now - sent_at:+.0f}s away from the gateway clock")
        ok = signing.verify(
            method=req.method,
            path=req.raw_path,
            raw_query=req.raw_query,
            headers=req.headers,
            body=req.body,
            auth=auth,
            secret_key=pair.secret_key,
        )
        if not ok:
            raise self._fail(auth.access_key, "signature mismatch", now)
        kind = "aksk"
        if pair.security_token is not None:
            kind = "aksk_temporary"
            token = req.headers.get("x-security-token")
            if token is None or "x-security-token" not in signed:
                raise auth_failed(MSG_VERIFY_FAIL, "temporary AK without a signed X-Security-Token")
            if not secrets.compare_digest(token.strip().encode(), pair.security_token.encode()):
                raise auth_failed(MSG_VERIFY_FAIL, "X-Security-Token does not belong to the temporary AK")
        elif "x-security-token" in req.headers:
            raise auth_failed(MSG_VERIFY_FAIL, "X-Security-Token sent with a permanent AK")
        self._locks.pop(auth.access_key, None)
        return Identity(kind=kind, principal=f"ak:{auth.access_key}", project_ids=self._projects)


@dataclass
class IssuedToken:
    project_id: str
    project_name: str
    user_id: str
    user_name: str
    issued_at: float
    expires_at: float
    methods: list[str] = field(default_factory=lambda: ["password"])


#: Issued tokens are ``TOKEN_PREFIX`` + ``secrets.token_urlsafe(TOKEN_RANDOM_BYTES)`` (fixed length).
TOKEN_PREFIX = "MII"  # noqa: S105 (a format prefix, not a secret)
TOKEN_RANDOM_BYTES = 192


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogateescape")).hexdigest()


class TokenStore:
    """Tokens this emulator issued, by SHA-256 digest (the clear token is handed out once)."""

    def __init__(self) -> None:
        self._tokens: dict[str, IssuedToken] = {}
        self._lengths: dict[str, int] = {}

    def clear(self) -> None:
        self._tokens.clear()
        self._lengths.clear()

    def issue(self, info: IssuedToken) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)
        digest = _digest(token)
        self._tokens[digest] = info
        self._lengths[digest] = len(token)
        return token

    def describe(self, now: float) -> list[dict[str, object]]:
        """Every issued token *without its value*: SHA-256 digest, length and the format's fixed
        prefix (enough to find a leaked token in a text by hashing candidate windows), plus
        metadata. In issue order."""
        return [
            {
                "sha256": digest,
                "length": self._lengths[digest],
                "prefix": TOKEN_PREFIX,
                "project_id": info.project_id,
                "user_name": info.user_name,
                "issued_at": info.issued_at,
                "expires_at": info.expires_at,
                "expired": now >= info.expires_at,
            }
            for digest, info in self._tokens.items()
        ]

    def lookup(self, token: str) -> IssuedToken | None:
        return self._tokens.get(_digest(token))

    def expire(self, token: str, now: float) -> bool:
        info = self.lookup(token)
        if info is None:
            return False
        info.expires_at = min(info.expires_at, now - 1.0)
        return True

    def expire_all(self, now: float) -> int:
        for info in self._tokens.values():
            info.expires_at = min(info.expires_at, now - 1.0)
        return len(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def verify(self, token: str, project_id: str | None, now: float) -> Identity:
        info = self.lookup(token.strip())
        if info is None:
            raise auth_failed(MSG_TOKEN, "token not issued by this emulator")
        if now >= info.expires_at:
            raise auth_failed(MSG_TOKEN, "token expired")
        if project_id is not None and info.project_id != project_id:
            raise ApiError(
                403,
                NOT_AUTHORIZED,
                "The IAM user is not authorized to access the API: the token is scoped to another project.",
                style="apig",
                detail="token scoped to another project",
            )
        return Identity(
            kind="token", principal=f"user:{info.user_id}", project_ids=frozenset({info.project_id})
        )


def no_credentials() -> ApiError:
    return auth_failed(MSG_NO_AUTH, "no credentials")


def project_mismatch(detail: str) -> ApiError:
    return ApiError(
        403,
        NOT_AUTHORIZED,
        "The IAM user is not authorized to access the API: " + detail,
        style="apig",
        detail=detail,
    )


class TokenBucket:
    """Classic token bucket on the gateway's clock; ``take`` returns seconds to wait (0 when allowed)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._at = now

    def take(self, now: float) -> float:
        """Take a token at gateway time ``now`` (epoch seconds)."""
        self._tokens = min(self.burst, self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now  # a clock moved back refills nothing and holds nothing back
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class RateLimiter:
    """Optional per-principal (per AK, or per token user) request rate limit -> 429."""

    def __init__(self, per_second: float | None, burst: int | None) -> None:
        self.configure(per_second, burst)

    def configure(self, per_second: float | None, burst: int | None) -> None:
        self.per_second = per_second if per_second and per_second > 0 else None
        self.burst = burst if burst else max(1, int(per_second or 1))
        self._buckets: dict[str, TokenBucket] = {}

    def check(self, principal: str, now: float) -> None:
        """Admit a request of ``principal`` at gateway time ``now`` or raise the 429."""
        if self.per_second is None:
            return
        bucket = self._buckets.get(principal)
        if bucket is None:
            bucket = self._buckets[principal] = TokenBucket(self.per_second, self.burst, now)
        wait = bucket.take(now)
        if wait > 0:
            limit = int(self.per_second) if float(self.per_second).is_integer() else self.per_second
            raise throttled(limit, wait)
