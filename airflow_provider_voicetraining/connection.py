"""The ``huaweicloud_metastudio`` connection: parsed, validated and frozen into settings.

This is the public contract of the connection (documented in the README). Everything is
checked here, once, before the first request: a bad field fails with its name and the fix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from airflow_provider_voicetraining import validation as check
from airflow_provider_voicetraining.errors import VoiceTrainingConnectionError, VoiceTrainingValidationError
from airflow_provider_voicetraining.secret import Secret

log = logging.getLogger(__name__)

AUTH_AKSK = "aksk"
AUTH_PASSWORD = "password"  # noqa: S105 - the name of an auth mode, not a credential
AUTH_TOKEN = "token"  # noqa: S105
AUTH_TYPES = (AUTH_AKSK, AUTH_PASSWORD, AUTH_TOKEN)

DEFAULT_REGION = "cn-north-4"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_RETRY_MAX_DELAY = 30.0

KNOWN_EXTRAS = frozenset(
    {
        "auth_type",
        "project_id",
        "region",
        "endpoint",
        "iam_endpoint",
        "domain_name",
        "security_token",
        "app_user_id",
        "verify",
        "timeout",
        "max_retries",
        "retry_delay",
        "retry_max_delay",
    }
)
_LEGACY_PREFIX = "extra__huaweicloud_metastudio__"


class ConnectionLike(Protocol):
    @property
    def conn_id(self) -> str | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...

    @property
    def extra_dejson(self) -> dict[str, Any]: ...


@dataclass(frozen=True, repr=False)
class ConnectionSettings:
    """Validated connection settings. Secrets are :class:`Secret` objects; ``repr`` hides them."""

    conn_id: str
    auth_type: str
    project_id: str
    region: str
    endpoint: str
    iam_endpoint: str
    access_key: Secret | None = None
    secret_key: Secret | None = None
    security_token: Secret | None = None
    user_name: str | None = None
    password: Secret | None = None
    domain_name: str | None = None
    token: Secret | None = None
    app_user_id: str | None = None
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    retry_max_delay: float = DEFAULT_RETRY_MAX_DELAY

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if not isinstance(getattr(self, f.name), Secret)
        )
        return f"ConnectionSettings({shown}, secrets=***)"

    @property
    def host(self) -> str:
        """``host[:port]`` of the endpoint: the signed and sent ``Host`` header."""
        return self.endpoint.split("://", 1)[1]

    def secrets(self) -> list[Secret]:
        """Every credential value (the AK too: it identifies the account and must not be logged)."""
        return [
            s
            for s in (self.access_key, self.secret_key, self.security_token, self.password, self.token)
            if s is not None
        ]

    def with_overrides(self, **changes: Any) -> ConnectionSettings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return ConnectionSettings(**values)


def _extras(conn: ConnectionLike) -> dict[str, Any]:
    # Airflow logs bad JSON and returns {}; say so instead of reporting "project_id is missing".
    text = getattr(conn, "extra", None)
    if isinstance(text, str) and text.strip():
        try:
            json.loads(text)
        except ValueError:
            raise VoiceTrainingConnectionError(
                "extra", "is not valid JSON", 'store the extras as a JSON object, e.g. {"project_id": "..."}'
            ) from None
    raw = conn.extra_dejson
    if not isinstance(raw, Mapping):
        raise VoiceTrainingConnectionError(
            "extra", "is not a JSON object", "store the extras as a JSON object"
        )
    extras: dict[str, Any] = {}
    for key, value in raw.items():
        name = key[len(_LEGACY_PREFIX) :] if key.startswith(_LEGACY_PREFIX) else key
        if value is None or value == "":
            continue
        extras[name] = value
    unknown = sorted(set(extras) - KNOWN_EXTRAS)
    if unknown:
        log.warning(
            "Connection %s: ignoring unknown extra field(s) %s; known fields: %s",
            conn.conn_id,
            unknown,
            sorted(KNOWN_EXTRAS),
        )
    return extras


def parse_connection(conn: ConnectionLike) -> ConnectionSettings:
    """Validate an Airflow connection and return its :class:`ConnectionSettings`."""
    conn_id = conn.conn_id or "<unnamed>"
    try:
        return _parse(conn, conn_id)
    except VoiceTrainingValidationError as exc:
        if isinstance(exc, VoiceTrainingConnectionError):
            raise
        raise VoiceTrainingConnectionError(
            f"connection {conn_id!r} field {exc.field}", exc.problem, exc.fix
        ) from None


def _parse(conn: ConnectionLike, conn_id: str) -> ConnectionSettings:
    extras = _extras(conn)
    if conn.host:
        raise VoiceTrainingValidationError(
            "host",
            "is set, but this connection type takes its URL from the extras",
            "leave host empty and set extra endpoint (or region) instead",
        )
    auth_type = str(extras.get("auth_type", AUTH_AKSK)).strip().lower()
    if auth_type not in AUTH_TYPES:
        raise VoiceTrainingValidationError(
            "auth_type", f"{extras.get('auth_type')!r} is not supported", f"use one of {list(AUTH_TYPES)}"
        )
    project_id = check.project_id(extras.get("project_id"))
    region = check.region(extras.get("region", DEFAULT_REGION))
    endpoint = check.endpoint(extras.get("endpoint", f"https://metastudio.{region}.myhuaweicloud.com"))
    iam_endpoint = check.endpoint(
        extras.get("iam_endpoint", f"https://iam.{region}.myhuaweicloud.com"), field="iam_endpoint"
    )
    settings: dict[str, Any] = {
        "conn_id": conn_id,
        "auth_type": auth_type,
        "project_id": project_id,
        "region": region,
        "endpoint": endpoint,
        "iam_endpoint": iam_endpoint,
        "app_user_id": check.app_user_id(extras.get("app_user_id")),
        "verify": check.verify(extras.get("verify")),
        "timeout": check.positive_number(
            extras.get("timeout"), "timeout", maximum=600, default=DEFAULT_TIMEOUT
        ),
        "max_retries": check.bounded_int(
            extras.get("max_retries"), "max_retries", minimum=0, maximum=20, default=DEFAULT_MAX_RETRIES
        ),
        "retry_delay": check.positive_number(
            extras.get("retry_delay"), "retry_delay", maximum=300, default=DEFAULT_RETRY_DELAY
        ),
        "retry_max_delay": check.positive_number(
            extras.get("retry_max_delay"), "retry_max_delay", maximum=3600, default=DEFAULT_RETRY_MAX_DELAY
        ),
    }
    if auth_type == AUTH_AKSK:
        settings["access_key"] = Secret(check.access_key(conn.login))
        settings["secret_key"] = Secret(
            check.secret(
                conn.password, "password (SK)", "set the connection password to the Secret Access Key"
            )
        )
        if "security_token" in extras:
            settings["security_token"] = Secret(
                check.secret(
                    extras["security_token"],
                    "security_token",
                    "paste the securitytoken of the temporary AK/SK exactly as IAM returned it",
                )
            )
    elif auth_type == AUTH_PASSWORD:
        settings["user_name"] = check.header_safe(
            conn.login, "login (IAM user name)", "set the connection login to the IAM user name"
        )
        settings["password"] = Secret(
            check.secret(conn.password, "password (IAM password)", "set the connection password")
        )
        settings["domain_name"] = check.header_safe(
            extras.get("domain_name"),
            "domain_name",
            "set extra domain_name to the account (domain) name that owns the IAM user",
        )
    else:
        settings["token"] = Secret(
            check.secret(
                conn.password,
                "password (X-Auth-Token)",
                "set the connection password to an IAM token (X-Subject-Token of POST /v3/auth/tokens)",
            )
        )
    if auth_type != AUTH_AKSK and "security_token" in extras:
        raise VoiceTrainingValidationError(
            "security_token", f"is only used with auth_type=aksk, not {auth_type}", "remove it or use aksk"
        )
    if settings["retry_max_delay"] < settings["retry_delay"]:
        raise VoiceTrainingValidationError(
            "retry_max_delay", "is smaller than retry_delay", "make retry_max_delay >= retry_delay"
        )
    return ConnectionSettings(**settings)
