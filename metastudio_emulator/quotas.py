"""Training quotas (``GET P/quotas``): what the tenant bought, what its commits used up.

The counters are ``resource_available_nums`` of the reference (section 2.8), and which jobs
draw on which counter comes from the provider's ``Edition`` table (``quota_key`` and
``on_demand_quota_key``), so client and emulator cannot disagree. A voice job uses one training
of its counter at its first commit through the API (a re-commit after ``AUDIT_FAILED`` is the
same training; seeded jobs used theirs before the emulator started). A commit with its counter
at 0 is refused with 400 :data:`NO_QUOTA_CODE` and the job stays uncommitted.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_voicetraining._wire.vocabulary import EDITIONS, QUOTA_KEYS
from metastudio_emulator.config import EmulatorConfig
from metastudio_emulator.responses import ApiError
from metastudio_emulator.store import JobRecord, JobStore

#: The emulator's (made-up) code for "no training resources left".
NO_QUOTA_CODE = "MSS.20005001"

#: counter -> (job_type, pay-per-use) of the jobs drawing on it; ``None``: no edition with a
#: create endpoint does (``flexus``), so it only ever shows its total.
COUNTERS: dict[str, tuple[str, bool] | None] = {key: None for key in QUOTA_KEYS}
for _edition in EDITIONS.values():
    COUNTERS[_edition.quota_key] = (_edition.job_type, False)
    if _edition.on_demand_quota_key:
        COUNTERS[_edition.on_demand_quota_key] = (_edition.job_type, True)


def counter_of(rec: JobRecord) -> str | None:
    """The counter a voice job draws on (``None`` for short jobs and uncounted pay-per-use)."""
    if rec.kind != "voice":
        return None
    edition = next((e for e in EDITIONS.values() if e.job_type == rec.job_type), None)
    if edition is None:
        return None
    return edition.quota_key_for(bool(rec.meta.get("is_ondemand_resource")))


def _consumed(rec: JobRecord) -> bool:
    return bool(rec.commits) and not rec.seeded


class QuotaBook:
    """Totals per counter (configurable at start and through the control API) and usage."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.totals: dict[str, int] = {}
        self.reset()

    def reset(self) -> None:
        self.totals = {key: self.config.quotas.get(key, self.config.quota_per_edition) for key in COUNTERS}

    def set_totals(self, totals: dict[str, Any]) -> None:
        unknown = sorted(set(totals) - set(COUNTERS))
        if unknown:
            raise ValueError(f"unknown quota counters {unknown}; known: {sorted(COUNTERS)}")
        for key, value in totals.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"quota {key} must be a non-negative integer")
        self.totals.update(totals)

    def available(self, store: JobStore, project_id: str) -> dict[str, int]:
        used = dict.fromkeys(COUNTERS, 0)
        for rec in store:
            key = counter_of(rec)
            if key is not None and rec.project_id == project_id and _consumed(rec):
                used[key] += 1
        return {key: max(0, self.totals[key] - used[key]) for key in COUNTERS}

    def check_commit(self, store: JobStore, rec: JobRecord) -> None:
        """Refuse the first commit of a job whose counter is used up."""
        key = counter_of(rec)
        if key is None or _consumed(rec) or rec.seeded:
            return
        if self.available(store, rec.project_id)[key] <= 0:
            raise ApiError(
                400,
                NO_QUOTA_CODE,
                f"Insufficient voice training resources: no {key} training left. "
                "Purchase a voice training package or wait for a running job to release one.",
            )

    def view(self, store: JobStore, project_id: str) -> tuple[dict[str, int], list[dict[str, Any]]]:
        """``resource_available_nums`` and one resource record per counter."""
        available = self.available(store, project_id)
        resources = [
            {
                "operation_type": "ADD",
                "resource_source": "PURCHASED",
                "asset_id": None,
                "resource_id": f"voice-quota-{key.replace('_', '-')}",
                "resource_nums": self.totals[key],
                "resource_available_nums": available[key],
                "resource_type": (spec[0] if spec else key.upper()),
                "charge_mode": "ON_DEMAND" if spec and spec[1] else "PERIODIC",
                "expire_time": "2099-12-31T23:59:59Z",
                "status": 0,
            }
            for key, spec in COUNTERS.items()
        ]
        return available, resources
