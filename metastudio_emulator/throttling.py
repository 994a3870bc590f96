"""Per-API throttling, as MetaStudio's gateway throttles: per tenant, per API, per region.

With ``EmulatorConfig.api_rate_limits`` on, each voice API route admits at most its region's
documented rate per tenant (the signing AK, or the token's user) in any one-second window:
queries (GET) at ``queries``, writes at ``writes`` of
:func:`airflow_provider_voicetraining._wire.vocabulary.rate_limits` for the emulator's region,
or a per-route figure from ``api_rate_overrides``. Beyond it: 429 ``APIGW.0308`` "policy user
over ratelimit", without ``Retry-After`` (the service documents none).
"""

from __future__ import annotations

from collections import deque

from airflow_provider_voicetraining._wire.vocabulary import rate_limits
from metastudio_emulator.responses import ApiError, throttled


class ApiThrottle:
    """Sliding one-second windows per (tenant, route)."""

    def __init__(self, enabled: bool, region: str, overrides: dict[str, float] | None = None) -> None:
        self.configure(enabled, region, overrides)

    def configure(self, enabled: bool, region: str, overrides: dict[str, float] | None = None) -> None:
        self.enabled = enabled
        self.limits = rate_limits(region)
        self.overrides = dict(overrides or {})
        self._windows: dict[tuple[str, str], deque[float]] = {}

    def limit(self, route: str, method: str) -> float:
        """Requests per second allowed on ``route``."""
        if route in self.overrides:
            return self.overrides[route]
        return self.limits.queries if method == "GET" else self.limits.writes

    def check(self, tenant: str, route: str, method: str, now: float) -> None:
        """Admit the request at gateway time ``now`` (epoch seconds) or raise the gateway's 429."""
        if not self.enabled:
            return
        rate = self.limit(route, method)
        if rate <= 0:
            return
        capacity = max(1, int(rate))
        window = capacity / rate
        arrivals = self._windows.setdefault((tenant, route), deque())
        while arrivals and arrivals[-1] > now:  # the clock was moved back: forget its future
            arrivals.pop()
        while arrivals and arrivals[0] <= now - window:
            arrivals.popleft()
        if len(arrivals) >= capacity:
            error: ApiError = throttled(int(rate) if float(rate).is_integer() else rate, None)
            raise error
        arrivals.append(now)
