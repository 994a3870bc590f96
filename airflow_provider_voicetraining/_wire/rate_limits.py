"""Client-side rate limits: bursts queue in the process instead of drawing 429s.

MetaStudio throttles per tenant, per API and per region (reference section 9: show and list
20/10/10 requests per second in cn-north-4/cn-east-3/ap-southeast-3, create, commit and delete
10/3/3). Every call to the service reserves a slot with :data:`RATE_LIMITER` for its (tenant,
API) before it is sent, at the connection's ``query_rate`` (GET) or ``write_rate`` (anything
else); the request flow sleeps until the slot is due. The limiter is per process and shared by
every hook, trigger and thread in it (a reservation is a few arithmetic operations under a
lock, so it serves the triggerer's loop and the sync hook's loop alike). Across workers, cap
fan-out with an Airflow pool (see the README). A 429 that still comes is retried as always.

The schedule is a sliding window: at most ``rate`` requests start in any window of one second
plus :data:`GUARD` (for a fractional rate, one request per ``1 / rate`` seconds plus the guard),
so a burst within the quota passes at once and the server's one-second throttling window does
not see more than the quota even when the first requests of a burst arrive late (connection
setup) and the next ones on time.
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
