"""When to retry and how long to wait: bounded exponential backoff with jitter.

Retried: connection errors, timeouts, 429 (honouring ``Retry-After``), 5xx and garbled 2xx
bodies. Never other 4xx: repeating a rejected request cannot make it valid. Calls that are
not idempotent (create) are retried only when the request never reached the service
(refused connection, connect timeout) or was throttled (429 means "not processed").
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass, field

#: Never wait longer than this for a ``Retry-After``; beyond it, give up and report it.
MAX_RETRY_AFTER = 120.0
#: 429s may be retried this many times ``max_retries`` (throttling means "later", not "broken").
THROTTLE_RETRY_FACTOR = 2


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (0-based): half fixed, half random ("equal jitter"),
        so a thousand clients that failed together do not return together."""
        ceiling = min(self.max_delay, self.base_delay * float(2**retry_number))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def delay(self, retry_number: int, retry_after: float | None) -> float:
        wait = self.backoff(retry_number)
        if retry_after is not None:
            wait = max(wait, retry_after)
        return wait

    def can_retry(self, retries_done: int) -> bool:
        return retries_done < self.max_retries


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
