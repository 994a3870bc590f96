"""Client-side rate limits: bursts queue in the process instead of drawing 429s.

Every call to the service reserves a slot with :data:`RATE_LIMITER` for its (tenant, API) at the
connection's ``query_rate`` (GET) or ``write_rate`` (anything else), and the request flow sleeps
until the slot is due. One limiter per process, shared by every hook, trigger and thread (a
reservation is a few operations under a lock). The schedule: at most ``rate`` requests start in
any window of one second plus :data:`GUARD`. A call that could not start before its deadline
reserves nothing, and a call cancelled while it waits for its slot gives the slot back
(:meth:`RateLimiter.release`): only requests that are sent count. The region's rates and the
reasoning: docs/design.md.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

#: Extra seconds per window, for arrival jitter between client and gateway (a 3/s quota is used
#: at 3 / 1.05 = 2.86/s, 95 % of it).
GUARD = 0.05


@dataclass(frozen=True)
class Slot:
    """A reserved start: ``wait`` seconds from the reservation (``start`` on the monotonic clock)."""

    tenant: str
    api: str
    start: float
    wait: float


class RateLimiter:
    """Slots per (tenant, API) at a given rate; see the module docstring."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        #: the starts that may still constrain a new one (those of the last window and later)
        self._slots: dict[tuple[str, str], deque[float]] = {}

    def reserve(
        self, tenant: str, api: str, rate: float, now: float | None = None, max_wait: float = math.inf
    ) -> Slot | None:
        """Reserve the next slot for ``api`` of ``tenant``; None if not due within ``max_wait``.

        A refused call reserves nothing.

        :param tenant: who the service counts the request against (``ConnectionSettings.tenant``).
        :param api: the API (the call's operation name: each API has its own quota).
        :param rate: requests per second allowed; 0 means no limit.
        :param now: the clock (tests); ``time.monotonic()`` by default.
        :param max_wait: the longest wait the caller accepts (its deadline).
        """
        now = time.monotonic() if now is None else now
        if rate <= 0:
            return Slot(tenant, api, now, 0.0)
        per_window = max(1, int(rate))
        window = per_window / rate + GUARD
        with self._guard:
            slots = self._slots.setdefault((tenant, api), deque())
            while slots and slots[0] + window <= now:  # too old to constrain any start from now on
                slots.popleft()
            start = max(now, slots[-1]) if slots else now
            if len(slots) >= per_window:
                start = max(start, slots[-per_window] + window)
            if start - now >= max_wait:
                return None
            slots.append(start)
        return Slot(tenant, api, start, start - now)

    def release(self, slot: Slot) -> None:
        """Give back a slot whose request will not be sent (its call was cancelled while waiting)."""
        with self._guard:
            slots = self._slots.get((slot.tenant, slot.api))
            if slots is not None and slot.start in slots:
                slots.remove(slot.start)

    def clear(self) -> None:
        """Forget every schedule (tests start from an idle process)."""
        with self._guard:
            self._slots.clear()


RATE_LIMITER = RateLimiter()
