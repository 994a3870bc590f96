"""Seeded, per-route fault injection: the failures a client must survive, on demand.

A rule names a route (or ``"*"`` for every API route; control routes are never affected), a
``kind`` and a ``rate``. Each route draws from its own ``random.Random`` seeded with
``f"{seed}:{route}"``, so the faults one route sees do not depend on traffic to other routes,
and a fixed seed plus the same request sequence gives the same faults in every run.

The kinds (``status``, ``throttle``, ``latency``, ``drop``, ``malformed``, ``token_expiry``)
and rule keys are documented for users in docs/emulator.md; :class:`FaultRule` holds
the keys and their defaults, :meth:`FaultInjector.decide` the semantics.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_voicetraining._wire.vocabulary import EDITIONS

API_ROUTES: tuple[str, ...] = (
    *(edition.operation for edition in EDITIONS.values()),
    "commit_job",
    "list_jobs",
    "show_job",
    "delete_job",
    "show_audit_result",
    "show_uploading_address",
    "show_review_attachment_address",
    "list_op_logs",
    "show_quotas",
    "create_short_job",
    "commit_short_job",
    "show_short_job",
    "show_asset",
    "iam_tokens",
    "obs_upload",
)
#: Not in the brief's list but served (SDK project-id discovery); ``"*"`` covers it too.
EXTRA_ROUTES: tuple[str, ...] = ("iam_projects",)
KINDS: tuple[str, ...] = (
    "status",
    "throttle",
    "latency",
    "drop",
    "malformed",
    "token_expiry",
    "trickle",
    "oversize",
)


@dataclass
class FaultRule:
    route: str
    kind: str
    rate: float = 1.0
    status: int = 503
    error_code: str | None = None
    error_msg: str | None = None
    retry_after: float = 1.0
    burst: int = 0
    #: ``trickle``: seconds between body chunks of ``chunk_size`` bytes
    chunk_delay: float = 0.5
    chunk_size: int = 16
    #: ``oversize``: bytes of the (valid JSON) answer sent instead of the real one
    size: int = 8 * 1024 * 1024
    min_delay: float = 0.05
    max_delay: float = 0.2
    times: int | None = None
    #: let this many matching requests pass first (e.g. fault the second poll, not the first)
    after: int = 0
    process: bool = True
    triggered: int = 0
    seen: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        """Validate one rule; ``ValueError`` with a message naming the problem."""
        if not isinstance(data, dict):
            raise ValueError("a fault rule must be an object")
        known = set(cls.__dataclass_fields__) - {"triggered", "seen"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault rule keys {unknown}; known: {sorted(known)}")
        rule = cls(**data)
        if rule.route != "*" and rule.route not in API_ROUTES + EXTRA_ROUTES:
            raise ValueError(f"unknown route {rule.route!r}; use '*' or one of {list(API_ROUTES)}")
        if rule.kind not in KINDS:
            raise ValueError(f"unknown fault kind {rule.kind!r}; use one of {list(KINDS)}")
        if not 0.0 <= float(rule.rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not 100 <= int(rule.status) <= 599:
            raise ValueError("status must be an HTTP status code")
        if rule.min_delay < 0 or rule.max_delay < rule.min_delay:
            raise ValueError("need 0 <= min_delay <= max_delay")
        if rule.chunk_delay < 0 or rule.chunk_size < 1 or rule.size < 0:
            raise ValueError("chunk_delay and size must not be negative, chunk_size at least 1")
        if (
            rule.burst < 0
            or (rule.times is not None and rule.times < 0)
            or rule.retry_after < 0
            or rule.after < 0
        ):
            raise ValueError("burst, times, after and retry_after must not be negative")
        return rule

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, route: str) -> bool:
        return self.route in ("*", route)


@dataclass(frozen=True)
class Decision:
    """What to do with one request: the (non-latency) rule that fired, if any, the total
    latency to add first, and whether to expire the presented token."""

    delay: float = 0.0
    rule: FaultRule | None = None
    expire_token: bool = False


class FaultInjector:
    def __init__(self, rules: list[dict[str, Any]] | None = None, seed: int = 0) -> None:
        self.configure(rules or [], seed)

    def configure(self, rules: list[dict[str, Any]], seed: int) -> None:
        """Replace all rules (validated first, so a bad list leaves the old one in place)."""
        parsed = [FaultRule.from_dict(dict(r)) for r in rules]
        self.rules = parsed
        self.seed = seed
        self._rngs: dict[str, random.Random] = {}
        self._burst: dict[str, tuple[FaultRule, int]] = {}
        self.counts: dict[str, int] = {}

    def clear(self) -> None:
        self.configure([], self.seed)

    def _rng(self, route: str) -> random.Random:
        rng = self._rngs.get(route)
        if rng is None:
            rng = self._rngs[route] = random.Random(f"{self.seed}:{route}")
        return rng

    def decide(self, route: str) -> Decision:
        if not self.rules:
            return Decision()
        pending = self._burst.get(route)
        if pending is not None:
            rule, left = pending
            if left <= 1:
                del self._burst[route]
            else:
                self._burst[route] = (rule, left - 1)
            self._count(rule)
            return Decision(rule=rule)
        rng = self._rng(route)
        delay = 0.0
        expire = False
        for rule in self.rules:
            if not rule.matches(route) or (rule.times is not None and rule.triggered >= rule.times):
                continue
            rule.seen += 1
            if rule.seen <= rule.after:
                continue
            if rng.random() >= rule.rate:
                continue
            rule.triggered += 1
            self._count(rule)
            if rule.kind == "latency":
                delay += rng.uniform(rule.min_delay, rule.max_delay)
                continue
            if rule.kind == "token_expiry":
                expire = True
                continue
            if rule.kind == "throttle" and rule.burst > 0:
                self._burst[route] = (rule, rule.burst)
            return Decision(delay=delay, rule=rule, expire_token=expire)
        return Decision(delay=delay, expire_token=expire)

    def _count(self, rule: FaultRule) -> None:
        self.counts[rule.kind] = self.counts.get(rule.kind, 0) + 1

    def describe(self) -> dict[str, Any]:
        return {"seed": self.seed, "rules": [r.to_dict() for r in self.rules], "triggered": dict(self.counts)}
