"""The ``huaweicloud_metastudio`` connection: parsed, validated and frozen into settings.

This is the public contract of the connection (documented in docs/connection.md). Everything is
checked here, once, before the first request: a bad field fails with its name and the fix.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire.errors import (
    VoiceTrainingConnectionError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining._wire.secrets import Secret
from airflow_provider_voicetraining._wire.vocabulary import rate_limits

log = logging.getLogger(__name__)

AUTH_AKSK = "aksk"
AUTH_PASSWORD = "password"  # noqa: S105 - the name of an auth mode, not a credential
AUTH_TOKEN = "token"  # noqa: S105
AUTH_TYPES = (AUTH_AKSK, AUTH_PASSWORD, AUTH_TOKEN)
#: how the connection form spells aksk: Airflow's masker warns "too short to mask" in every task
#: and trigger log about any extra value under 5 characters, and "aksk" has 4
AUTH_AKSK_FORM = "AK/SK"
#: every accepted spelling (lower-cased) -> the auth type
AUTH_SPELLINGS = {**{t: t for t in AUTH_TYPES}, AUTH_AKSK_FORM.lower(): AUTH_AKSK}

DEFAULT_REGION = "cn-north-4"


@dataclass(frozen=True)
class Tunable:
    """A numeric connection setting: its default and allowed range (one definition for the
    connection parser, the hook's overrides and the connection form).

    :param default: value when unset.
    :param minimum: smallest allowed value.
    :param maximum: largest allowed value.
    :param integer: whole numbers only.
    :param description: what it does (shown in the connection form).
    """

    default: float
    minimum: float
    maximum: float
    integer: bool = False
    description: str = ""

    def check(self, name: str, value: object) -> float:
        """``value`` checked against the range; the default for ``None`` or ``""``."""
        if self.integer:
            return check.bounded_int(
                value, name, minimum=int(self.minimum), maximum=int(self.maximum), default=int(self.default)
            )
        return check.positive_number(
            value, name, minimum=self.minimum, maximum=self.maximum, default=self.default
        )


TUNABLES: dict[str, Tunable] = {
    "timeout": Tunable(
        30.0, 0.1, 600, description="Total time of one HTTP attempt: connect, headers and body (s)."
    ),
    "call_timeout": Tunable(
        300.0, 1, 3600, description="Total time of one call across its retries and back-offs (s)."
    ),
    "max_retries": Tunable(
        5, 0, 20, integer=True, description="Retries per call on connection errors, timeouts, 429 and 5xx."
    ),
    "retry_delay": Tunable(1.0, 0.01, 300, description="First back-off between retries (s); it doubles."),
    "retry_max_delay": Tunable(30.0, 0.01, 3600, description="Longest back-off between retries (s)."),
}

#: The connection form's extra fields (``conn-fields`` in the provider info): every extra this
#: connection type reads. Anything else in the extras is ignored with a warning.
CONN_FIELDS: dict[str, Any] = {
    # Every choice is at least 5 characters long: Airflow's masker warns "too short to mask"
    # about any shorter extra value in every task and trigger log (see AUTH_AKSK_FORM).
    "auth_type": {
        "label": "Auth type",
        "description": f"{AUTH_AKSK_FORM} (the default): login=AK, password=SK, requests signed. password: "
        "IAM user/password, the hook gets a project-scoped token. token: password holds a ready "
        "X-Auth-Token.",
        "schema": {
            "type": "string",
            "enum": [AUTH_AKSK_FORM, AUTH_PASSWORD, AUTH_TOKEN],
            "default": AUTH_AKSK_FORM,
        },
    },
    # a plain "string" (not nullable) with minLength: the form marks it required and keeps Save
    # disabled while it is empty
    "project_id": {
        "label": "Project ID",
        "description": "Required. The Huawei Cloud project id of the MetaStudio region.",
        "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9-]{1,64}$"},
    },
    "region": {
        "label": "Region",
        "description": f"Default {DEFAULT_REGION}; gives https://metastudio.{{region}}.myhuaweicloud.com",
        "schema": {"type": ["string", "null"]},
    },
    "endpoint": {
        "label": "Endpoint override",
        "description": "Full MetaStudio URL, e.g. the local emulator. http:// only for loopback hosts.",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "iam_endpoint": {
        "label": "IAM endpoint override",
        "description": "Default https://iam.{region}.myhuaweicloud.com (auth_type=password only).",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "domain_name": {
        "label": "Account (domain) name",
        "description": "Huawei Cloud account name owning the IAM user (auth_type=password).",
        "schema": {"type": ["string", "null"]},
    },
    "security_token": {
        "label": "Security token",
        "description": "For temporary AK/SK credentials; sent as X-Security-Token.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "app_user_id": {
        "label": "Default X-App-UserId",
        "description": "Third-party end-user id sent with every call (per-call overrides win).",
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "TLS verify",
        "description": "Empty: verify certificates; false: do not; or the path of a CA bundle.",
        # one type: a union with boolean makes the 3.x form render a multi-line JSON text area
        "schema": {"type": ["string", "null"]},
    },
    "rate_limit_queries": {
        "label": "Query rate limit (req/s)",
        "description": "Client-side cap per process on each query API (show, list ...); default the "
        "region's documented limit (cn-north-4 20, cn-east-3 and ap-southeast-3 10); 0 turns it off.",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 1000},
    },
    "rate_limit_writes": {
        "label": "Write rate limit (req/s)",
        "description": "Client-side cap per process on each write API (create, commit, delete); default "
        "the region's documented limit (cn-north-4 10, cn-east-3 and ap-southeast-3 3); 0 turns it off.",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 1000},
    },
    "console_url": {
        "label": "Console link template",
        "description": "Where people look at a job (the task's extra link), with {job_id}; default: "
        "the MetaStudio console of the region. The emulator's connection sets its own job page.",
        "schema": {"type": ["string", "null"]},
    },
    **{
        name: {
            "label": name.replace("_", " ").capitalize() + (" (s)" if not tunable.integer else ""),
            "description": f"{tunable.description} Default {tunable.default:g}.",
            "schema": {
                "type": ["integer" if tunable.integer else "number", "null"],
                "minimum": tunable.minimum,
                "maximum": tunable.maximum,
            },
        }
        for name, tunable in TUNABLES.items()
    },
}

KNOWN_EXTRAS = frozenset(CONN_FIELDS)
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
    #: where people look at a job: a URL template holding ``{job_id}`` (the emulator's console
    #: page), or None for the MetaStudio console of the region
    console_url: str | None = None
    #: client-side request rates per API class (requests per second; 0 = not limited)
    query_rate: float = 0.0
    write_rate: float = 0.0
    timeout: float = TUNABLES["timeout"].default
    call_timeout: float = TUNABLES["call_timeout"].default
    max_retries: int = int(TUNABLES["max_retries"].default)
    retry_delay: float = TUNABLES["retry_delay"].default
    retry_max_delay: float = TUNABLES["retry_max_delay"].default

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if not isinstance(getattr(self, f.name), Secret)
        )
        return f"ConnectionSettings({shown}, secrets=***)"

    @property
    def described(self) -> str:
        """How messages name the connection: ``connection '<id>'``, or ``the connection`` when it
        has no id worth showing (Airflow's Test button tests it under a random temporary id)."""
        return describe_connection(self.conn_id)

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

    @functools.cached_property
    def tenant(self) -> str:
        """Who the service counts requests and jobs against: endpoint, project and a digest of the
        credentials (never the credentials themselves). Rate limits and shared polling key on it."""
        identity = [s.reveal() for s in (self.access_key, self.token) if s is not None]
        identity += [self.user_name or "", self.domain_name or ""]
        material = json.dumps([self.endpoint, self.project_id, self.auth_type, *identity])
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    @functools.cached_property
    def fingerprint(self) -> str:
        """A digest of every setting, the credentials included: equal fingerprints, equal calls."""
        values = [
            hashlib.sha256(v.reveal().encode()).hexdigest() if isinstance(v, Secret) else repr(v)
            for v in (getattr(self, f.name) for f in fields(self))
        ]
        return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:32]

    def with_overrides(self, **changes: Any) -> ConnectionSettings:
        """A copy with some fields replaced (tunables are range-checked)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in changes.items():
            values[name] = TUNABLES[name].check(name, value) if name in TUNABLES else value
        return ConnectionSettings(**values)

    def job_console_url(self, job_id: str) -> str:
        """Where a person looks at the job (the task's extra link)."""
        job_id = check.job_id(job_id)
        if self.console_url:
            return self.console_url.replace("{job_id}", job_id)
        # The console has no documented per-job deep link: the job id rides along as a query.
        return (
            f"https://console.huaweicloud.com/metastudio/?region={self.region}&jobId={job_id}#/voiceModeling"
        )


def _extras(conn: ConnectionLike) -> dict[str, Any]:
    # The raw text is parsed here rather than through ``extra_dejson``: that property registers
    # every value with Airflow's masker, which warns "too short to mask" for any value under 5
    # characters (in every task and trigger log); the hook registers the credentials itself.
    # Airflow would also log bad JSON and return {}; this says so instead of "project_id is missing".
    text = getattr(conn, "extra", None)
    raw: Any
    if isinstance(text, str):
        try:
            raw = json.loads(text) if text.strip() else {}
        except ValueError:
            raise VoiceTrainingConnectionError(
                "extra", "is not valid JSON", 'store the extras as a JSON object, e.g. {"project_id": "..."}'
            ) from None
    else:
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


def _rate(value: object, field: str, default: float) -> float:
    if value is None or value == "":
        return default
    if value in (0, "0"):
        return 0.0
    return check.positive_number(value, field, maximum=1000, default=default)


def describe_connection(conn_id: str) -> str:
    """``connection '<id>'``, or ``the connection`` for an empty id (see ``ConnectionSettings.described``)."""
    return f"connection {conn_id!r}" if conn_id else "the connection"


def parse_connection(conn: ConnectionLike, *, named: bool = True) -> ConnectionSettings:
    """Validate an Airflow connection and return its :class:`ConnectionSettings`.

    ``named=False`` keeps the connection id out of every message (``conn_id`` is then empty):
    Airflow's Test button tests a connection under a random temporary id that means nothing to
    the person reading the message.
    """
    conn_id = (conn.conn_id or "<unnamed>") if named else ""
    try:
        return _parse(conn, conn_id)
    except VoiceTrainingValidationError as exc:
        if isinstance(exc, VoiceTrainingConnectionError):
            raise
        where = f"{describe_connection(conn_id) if conn_id else 'connection'} field {exc.field}"
        raise VoiceTrainingConnectionError(where, exc.problem, exc.fix) from None


def _parse(conn: ConnectionLike, conn_id: str) -> ConnectionSettings:
    extras = _extras(conn)
    if conn.host:
        raise VoiceTrainingValidationError(
            "host",
            "is set, but this connection type takes its URL from the extras",
            "leave host empty and set extra endpoint (or region) instead",
        )
    auth_type = AUTH_SPELLINGS.get(str(extras.get("auth_type", AUTH_AKSK)).strip().lower(), "")
    if not auth_type:
        raise VoiceTrainingValidationError(
            "auth_type",
            f"{extras.get('auth_type')!r} is not supported",
            f"use one of {[*AUTH_TYPES, AUTH_AKSK_FORM]}",
        )
    project_id = check.project_id(extras.get("project_id"))
    region = check.region(extras.get("region", DEFAULT_REGION))
    endpoint = check.endpoint(extras.get("endpoint", f"https://metastudio.{region}.myhuaweicloud.com"))
    iam_endpoint = check.endpoint(
        extras.get("iam_endpoint", f"https://iam.{region}.myhuaweicloud.com"), field="iam_endpoint"
    )
    limits = rate_limits(region)
    settings: dict[str, Any] = {
        "conn_id": conn_id,
        "auth_type": auth_type,
        "project_id": project_id,
        "region": region,
        "endpoint": endpoint,
        "iam_endpoint": iam_endpoint,
        "app_user_id": check.app_user_id(extras.get("app_user_id")),
        "verify": check.verify(extras.get("verify")),
        "console_url": check.url_template(extras.get("console_url"), "console_url", "{job_id}"),
        "query_rate": _rate(extras.get("rate_limit_queries"), "rate_limit_queries", limits.queries),
        "write_rate": _rate(extras.get("rate_limit_writes"), "rate_limit_writes", limits.writes),
        **{name: tunable.check(name, extras.get(name)) for name, tunable in TUNABLES.items()},
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
