"""Everything one emulator instance knows, in one object the routes share.

All mutation happens on the server's event loop (routes are ``async`` and never await while
changing state), so there are no locks. Other threads reach the state only through HTTP
(:class:`~metastudio_emulator.control.EmulatorControl`).
"""

from __future__ import annotations

import time
from typing import Any

from metastudio_emulator.auth import (
    AkSkVerifier,
    IssuedToken,
    KeyPair,
    RateLimiter,
    TokenStore,
)
from metastudio_emulator.config import EmulatorConfig
from metastudio_emulator.faults import FaultInjector
from metastudio_emulator.quotas import QuotaBook
from metastudio_emulator.requestlog import RequestLog
from metastudio_emulator.store import JobStore
from metastudio_emulator.throttling import ApiThrottle
from metastudio_emulator.uploads import Presigner


class EmulatorRuntime:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.presigner = Presigner()
        self.store = JobStore(config.time_scale, config.durations)
        self.quotas = QuotaBook(config)
        self.tokens = TokenStore()
        keys = {
            config.access_key: KeyPair(config.secret_key),
            config.temp_access_key: KeyPair(config.temp_secret_key, config.security_token),
        }
        self.verifier = AkSkVerifier(
            keys,
            frozenset(config.projects()),
            max_skew_seconds=config.max_clock_skew_seconds,
            lockout_threshold=config.lockout_threshold,
            lockout_seconds=config.lockout_seconds,
        )
        self.faults = FaultInjector(config.faults, config.effective_fault_seed())
        self.rate_limiter = RateLimiter(config.rate_limit_per_second, config.rate_limit_burst)
        self.throttle = ApiThrottle(config.api_rate_limits, config.region, config.api_rate_overrides)
        self.log = RequestLog()
        self.clock_offset = config.clock_offset_seconds
        #: seconds the service's own clock (job timestamps) is off: a client whose clock is fast
        #: sees jobs created "before" it asked (``PUT /_emulator/clock`` with ``"jobs": true``)
        self.jobs_clock_offset = 0.0
        #: when set, the gateway's clock stands still at this time (``PUT /_emulator/clock`` with
        #: ``"frozen": true``): a test of a one-second window holds it instead of racing it
        self.gateway_frozen_at: float | None = None
        self._seed_configured_jobs()

    def _seed_configured_jobs(self) -> None:
        for fields in self.config.seed_jobs:
            self.store.seed(dict(fields), self.config.project_id, self.now())

    def now(self) -> float:
        """The service's clock: job timestamps and lifecycles (real time unless offset)."""
        return time.time() + self.jobs_clock_offset

    def gateway_now(self) -> float:
        """The gateway's (possibly skewed or frozen) clock: signature window, expiries, rate windows."""
        if self.gateway_frozen_at is not None:
            return self.gateway_frozen_at
        return time.time() + self.clock_offset

    def reset(self) -> None:
        """Back to the startup state: configured seed jobs and faults, nothing else."""
        self.store.clear()
        self.quotas.reset()
        self.tokens.clear()
        self.verifier.reset()
        self.faults.configure(self.config.faults, self.config.effective_fault_seed())
        self.rate_limiter.configure(self.config.rate_limit_per_second, self.config.rate_limit_burst)
        self.throttle.configure(
            self.config.api_rate_limits, self.config.region, self.config.api_rate_overrides
        )
        self.log.clear()
        self.clock_offset = self.config.clock_offset_seconds
        self.jobs_clock_offset = 0.0
        self.gateway_frozen_at = None
        self._seed_configured_jobs()

    def issue_token(self, project_id: str, ttl_seconds: float | None = None) -> tuple[str, IssuedToken]:
        projects = self.config.projects()
        now = self.gateway_now()
        ttl = self.config.token_ttl_seconds if ttl_seconds is None else ttl_seconds
        info = IssuedToken(
            project_id=project_id,
            project_name=projects.get(project_id, project_id),
            user_id=self.config.iam_user_id,
            user_name=self.config.iam_user,
            issued_at=now,
            expires_at=now + ttl,
        )
        return self.tokens.issue(info), info

    def stats(self) -> dict[str, Any]:
        return self.log.stats(
            {
                "jobs": sum(1 for _ in self.store),
                "tokens_issued": len(self.tokens),
                "faults_triggered": dict(self.faults.counts),
                "clock_offset_seconds": self.clock_offset,
                "gateway_clock_frozen": self.gateway_frozen_at is not None,
                "api_rate_limits": {
                    "enabled": self.throttle.enabled,
                    "queries": self.throttle.limits.queries,
                    "writes": self.throttle.limits.writes,
                    "overrides": dict(self.throttle.overrides),
                },
            }
        )
