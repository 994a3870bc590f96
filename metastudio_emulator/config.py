"""Emulator settings: one dataclass, plain values, JSON round-trip.

Everything is a plain value so the same configuration can travel from a parent process to a
``python -m metastudio_emulator`` child as one JSON document (see
:func:`config_to_dict` / :func:`config_from_dict`), without secrets ever appearing on a command
line.

The default credentials are fixed, documented *demo* values: they let a DAG author copy one
``AIRFLOW_CONN_...`` line and work offline. They are not secrets and must never be reused
against the real service.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_voicetraining._wire.signing import MAX_CLOCK_SKEW

DEFAULT_ACCESS_KEY = "EMULATORAK0000000001"
DEFAULT_SECRET_KEY = "emulator-demo-secret-key-0000000000000000"  # noqa: S105 (public demo value)
DEFAULT_PROJECT_ID = "0123456789abcdef0123456789abcdef"
DEFAULT_REGION = "cn-north-4"
DEFAULT_DOMAIN_NAME = "emulator-domain"
DEFAULT_DOMAIN_ID = "cafe0000000000000000000000000001"
DEFAULT_IAM_USER = "emulator-user"
DEFAULT_IAM_USER_ID = "beef0000000000000000000000000001"
DEFAULT_IAM_PASSWORD = "Emulator-Passw0rd!"  # noqa: S105 (public demo value)
DEFAULT_TEMP_ACCESS_KEY = "EMULATORTMPAK0000001"
DEFAULT_TEMP_SECRET_KEY = "emulator-temporary-secret-key-00000000000"  # noqa: S105 (public demo value)
DEFAULT_SECURITY_TOKEN = "EmulatorSecurityToken0000000000000000000000000000000000000000"  # noqa: S105 (public demo value)

#: ``conn_type`` of the provider's connection (the lead's hook registers it).
CONN_TYPE = "huaweicloud_metastudio"


@dataclass
class EmulatorConfig:
    """How one emulator instance behaves.

    ``time_scale`` multiplies every lifecycle duration (0.01 makes a ~20 s job finish in
    ~0.2 s; 3600 makes it take hours). ``port=0`` picks a free port. The clock offset shifts
    the *gateway's* clock only (signature window, token and presigned-URL expiry), never the
    job timeline, so a test can provoke "signature expired" without disturbing jobs.
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    time_scale: float = 1.0
    seed: int = 0

    # Credentials (demo values, see the module docstring).
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = DEFAULT_SECRET_KEY
    project_id: str = DEFAULT_PROJECT_ID
    region: str = DEFAULT_REGION
    #: IAM project name; Huawei names a region's default project after the region.
    project_name: str = DEFAULT_REGION
    #: Further projects the account owns (id -> name); AK/SK and IAM users may use them all.
    extra_projects: dict[str, str] = field(default_factory=dict)
    domain_name: str = DEFAULT_DOMAIN_NAME
    domain_id: str = DEFAULT_DOMAIN_ID
    iam_user: str = DEFAULT_IAM_USER
    iam_user_id: str = DEFAULT_IAM_USER_ID
    iam_password: str = DEFAULT_IAM_PASSWORD
    temp_access_key: str = DEFAULT_TEMP_ACCESS_KEY
    temp_secret_key: str = DEFAULT_TEMP_SECRET_KEY
    security_token: str = DEFAULT_SECURITY_TOKEN

    # Gateway behaviour.
    token_ttl_seconds: float = 24 * 3600.0
    presign_ttl_seconds: float = 3600.0
    max_clock_skew_seconds: float = MAX_CLOCK_SKEW
    clock_offset_seconds: float = 0.0
    lockout_threshold: int = 5
    lockout_seconds: float = 300.0
    #: Per-API throttling of the voice routes at the region's documented rates (see
    #: :mod:`.throttling`); ``api_rate_overrides`` sets route name -> requests per second.
    api_rate_limits: bool = False
    api_rate_overrides: dict[str, float] = field(default_factory=dict)
    #: Per-AK (or per token user) token bucket; ``None`` disables it.
    rate_limit_per_second: float | None = None
    rate_limit_burst: int | None = None
    #: Status of "job not found"; the real code is unknown (reference section 6).
    unknown_job_status: int = 404

    # Behaviour at start and after ``reset``.
    faults: list[dict[str, Any]] = field(default_factory=list)
    #: Seed of the fault decisions; ``None`` means ``seed``.
    fault_seed: int | None = None
    seed_jobs: list[dict[str, Any]] = field(default_factory=list)
    #: Nominal per-state durations in seconds overriding the defaults (before ``time_scale``).
    durations: dict[str, float] = field(default_factory=dict)
    #: Trainings bought per ``resource_available_nums`` counter (``GET P/quotas``); each first
    #: commit of a voice job uses one, and a commit with none left is refused (see ``quotas.py``).
    quota_per_edition: int = 100
    #: Per-counter totals overriding ``quota_per_edition`` (``{"basic": 0}``).
    quotas: dict[str, int] = field(default_factory=dict)

    # Server.
    keep_alive_timeout: int = 150
    backlog: int = 4096
    max_upload_bytes: int = 1024 * 1024 * 1024
    log_level: str = "warning"
    access_log: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0-65535, not {self.port}")
        if self.time_scale < 0:
            raise ValueError("time_scale must not be negative")
        if self.token_ttl_seconds <= 0 or self.presign_ttl_seconds <= 0:
            raise ValueError("token_ttl_seconds and presign_ttl_seconds must be positive")
        if self.keep_alive_timeout < 1:
            raise ValueError("keep_alive_timeout must be at least 1 second")
        if not self.access_key or not self.secret_key or not self.project_id:
            raise ValueError("access_key, secret_key and project_id must not be empty")

    def projects(self) -> dict[str, str]:
        """Every project the emulated account owns, id -> name."""
        return {self.project_id: self.project_name, **self.extra_projects}

    def effective_fault_seed(self) -> int:
        return self.seed if self.fault_seed is None else self.fault_seed


def config_to_dict(config: EmulatorConfig) -> dict[str, Any]:
    """JSON-ready dict of every field (secrets included: only pass it over a private channel)."""
    return dataclasses.asdict(config)


def config_from_dict(data: dict[str, Any]) -> EmulatorConfig:
    """Build a config from :func:`config_to_dict` output; unknown keys are an error (typos)."""
    known = {f.name for f in dataclasses.fields(EmulatorConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown emulator config keys: {unknown}")
    return EmulatorConfig(**data)
