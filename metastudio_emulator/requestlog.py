"""Request log and counters, so tests can assert what a client actually sent.

An entry holds method, route name, path, query (presign signatures redacted), status,
request id, auth kind, ``X-App-UserId``, timestamps, client address and the fault applied:
never the ``Authorization`` header, the AK, a token, a password or a body. API routes (the
voice API, IAM, uploads) are logged; control routes are not, so the log shows only the
traffic under test.
"""

from __future__ import annotations

import resource
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

#: Query parameters removed from logged queries (they grant access).
_REDACTED_QUERY_KEYS = ("Signature=", "X-Amz-Signature=", "once_token=")


def redact_query(query: str) -> str:
    parts = []
    for part in query.split("&") if query else []:
        if part.startswith(_REDACTED_QUERY_KEYS):
            part = part.split("=", 1)[0] + "=REDACTED"
        parts.append(part)
    return "&".join(parts)


@dataclass
class LogEntry:
    time: float
    request_id: str
    method: str
    route: str
    path: str
    query: str
    status: int | None
    auth: str
    app_user_id: str | None
    client: str | None
    fault: str | None
    auth_error: str | None
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """The latest ``maxlen`` entries plus per-route/status counters and connection tracking."""

    def __init__(self, maxlen: int = 20000) -> None:
        self.entries: deque[LogEntry] = deque(maxlen=maxlen)
        self.counts: dict[str, dict[str, int]] = {}
        self.connections: set[tuple[str, int]] = set()
        self.started = time.time()
        #: bumped by :meth:`clear`; a request that began before a clear is not logged after it
        self.generation = 0

    def clear(self) -> None:
        self.entries.clear()
        self.counts.clear()
        self.connections.clear()
        self.generation += 1

    def add(self, entry: LogEntry, peer: tuple[str, int] | None, generation: int | None = None) -> None:
        """Log ``entry``, unless its request began before the last :meth:`clear` (a slow request
        of an earlier test must not show up in the next test's log)."""
        if generation is not None and generation != self.generation:
            return
        self.entries.append(entry)
        by_status = self.counts.setdefault(entry.route, {})
        key = "dropped" if entry.status is None else str(entry.status)
        by_status[key] = by_status.get(key, 0) + 1
        if peer is not None:
            self.connections.add(peer)

    def select(self, route: str | None = None) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.entries if route is None or e.route == route]

    def rates(self, now: float | None = None) -> dict[str, dict[str, float]]:
        """Per route: requests per second over the last 10 s, and the busiest one-second window
        of the log (what a per-API quota sees)."""
        now = time.time() if now is None else now
        per_second: dict[str, dict[int, int]] = {}
        recent: dict[str, int] = {}
        for entry in self.entries:
            seconds = per_second.setdefault(entry.route, {})
            seconds[int(entry.time)] = seconds.get(int(entry.time), 0) + 1
            if entry.time >= now - 10:
                recent[entry.route] = recent.get(entry.route, 0) + 1
        return {
            route: {"last_10s_per_second": recent.get(route, 0) / 10, "peak_per_second": max(counts.values())}
            for route, counts in per_second.items()
        }

    def stats(self, extra: dict[str, Any]) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "uptime_seconds": time.time() - self.started,
            "requests_total": sum(sum(v.values()) for v in self.counts.values()),
            "requests": {route: dict(v) for route, v in self.counts.items()},
            "rates": self.rates(),
            "connections": len(self.connections),
            "cpu_seconds": time.process_time(),
            "cpu_user_seconds": usage.ru_utime,
            "cpu_system_seconds": usage.ru_stime,
            "max_rss_kb": usage.ru_maxrss,
            **extra,
        }
