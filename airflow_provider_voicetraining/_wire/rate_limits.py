"""Client-side rate limits: bursts queue in the process instead of drawing 429s.

Every call to the service reserves a slot with :data:`RATE_LIMITER` for its (tenant, API) at the
connection's ``query_rate`` (GET) or ``write_rate`` (anything else), and the request flow sleeps
until the slot is due. One limiter per process, shared by every hook, trigger and thread (a
reservation is a few operations under a lock). The schedule: at most ``rate`` requests start in
any window of one second plus :data:`GUARD`. The region's rates and the reasoning: docs/design.md.
"""

from __future__ import annotations

import threading
import time
from collections import deque

#: Extra seconds per window, for arrival jitter between client and gateway (a 3/s quota is used
#: at 3 / 1.05 = 2.86/s, 95 % of it).
GUARD = 0.05


class RateLimiter:
    """Slots per (tenant, API) at a given rate; see the module docstring."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._slots: dict[tuple[str, str], deque[float]] = {}

    def reserve(self, tenant: str, api: str, rate: float, now: float | None = None) -> float:
        """Reserve the next slot for ``api`` of ``tenant``; return the seconds to wait for it.

        :param tenant: who the service counts the request against (``ConnectionSettings.tenant``).
        :param api: the API (the call's operation name: each API has its own quota).
        :param rate: requests per second allowed; 0 means no limit.
        :param now: the clock (tests); ``time.monotonic()`` by default.
        """
        if rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        per_window = max(1, int(rate))
        window = per_window / rate + GUARD
        with self._guard:
            slots = self._slots.get((tenant, api))
            if slots is None or slots.maxlen != per_window:
                slots = self._slots[(tenant, api)] = deque(maxlen=per_window)
            start = max(now, slots[-1] if slots else now)
            if len(slots) == per_window:
                start = max(start, slots[0] + window)
            slots.append(start)
        return start - now

    def clear(self) -> None:
        """Forget every schedule (tests start from an idle process)."""
        with self._guard:
            self._slots.clear()


RATE_LIMITER = RateLimiter()
