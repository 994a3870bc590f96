"""Listing jobs: the filters of ``GET P/user/jobs`` as one object, and offset pagination.

:class:`JobFilters` is the one place the 13 filters are named: the hook's ``list_jobs`` and
``alist_jobs`` take a ``JobFilters`` (or its fields as keywords), the query is built from its
fields, and the values are checked when it is built, before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields

from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError
from airflow_provider_voicetraining._wire.models import JobPage, VoiceTrainingJob
from airflow_provider_voicetraining._wire.states import KNOWN_STATES
from airflow_provider_voicetraining._wire.vocabulary import (
    JOB_TYPES,
    MAX_PAGE,
    SORT_DIRS,
    SORT_KEYS,
    TAGS,
    TEXT_LIMITS,
)

__all__ = ["JobFilters", "Pager"]


def _time_filter(value: object, field_name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise VoiceTrainingValidationError(
                field_name, "is a naive datetime", "pass a timezone-aware datetime (e.g. pendulum.now('UTC'))"
            )
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value.strip():
        check.text(value, field_name, max_length=64)  # control characters anywhere are refused
        return value.strip()
    raise VoiceTrainingValidationError(
        field_name, f"{value!r} is not a time", "pass an aware datetime or an RFC 3339 string"
    )


def _states(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    raw = value.split(",") if isinstance(value, str) else list(value)
    for s in raw:
        check.text(str(s), "state")  # control characters anywhere are refused
    states = tuple(str(s).strip().upper() for s in raw if str(s).strip())
    for s in states:
        if not s.replace("_", "").isalnum() or not s.isascii() or len(s) > 64:
            raise VoiceTrainingValidationError(
                "state", f"{s[:64]!r} is not a state name", f"use states such as {sorted(KNOWN_STATES)[:4]}"
            )
    return states


@dataclass(frozen=True)
class JobFilters:
    """Filters of ``GET .../user/jobs``; all optional, checked (and normalized) when built.

    :param state: one state, several (a list, or comma-separated): jobs in any of them.
    :param job_type: ``BASIC``, ``MIDDLE``, ``ADVANCE``, ``THIRD_PARTY`` ... (exact).
    :param voice_name: exact voice name.
    :param batch_name: exact batch name.
    :param tag: exact tag.
    :param job_id: one job.
    :param create_since: created at or after (aware datetime or RFC 3339 string).
    :param create_until: created at or before.
    :param update_since: last state change at or after.
    :param update_until: last state change at or before.
    :param sort_key: ``create_time`` (default) or ``update_time``.
    :param sort_dir: ``asc`` (default: stable paging) or ``desc``.
    :param is_ondemand_resource: pay-per-use jobs only (True) or none of them (False).
    """

    state: str | Iterable[str] | None = None
    job_type: str | None = None
    voice_name: str | None = None
    batch_name: str | None = None
    tag: str | None = None
    job_id: str | None = None
    create_since: dt.datetime | str | None = None
    create_until: dt.datetime | str | None = None
    update_since: dt.datetime | str | None = None
    update_until: dt.datetime | str | None = None
    sort_key: str | None = "create_time"
    sort_dir: str | None = "asc"
    is_ondemand_resource: bool | None = None

    def __post_init__(self) -> None:
        if self.sort_key is not None and self.sort_key not in SORT_KEYS:
            raise VoiceTrainingValidationError(
                "sort_key", f"{self.sort_key!r} is not supported", f"use {SORT_KEYS}"
            )
        if self.sort_dir is not None and self.sort_dir not in SORT_DIRS:
            raise VoiceTrainingValidationError(
                "sort_dir", f"{self.sort_dir!r} is not supported", f"use {SORT_DIRS}"
            )
        if self.is_ondemand_resource is not None and not isinstance(self.is_ondemand_resource, bool):
            raise VoiceTrainingValidationError(
                "is_ondemand_resource", "must be a boolean", "pass True or False"
            )
        normalized = {
            "state": _states(self.state),
            "job_type": check.choice(self.job_type, "job_type", JOB_TYPES),
            "voice_name": check.text(self.voice_name, "voice_name", max_length=TEXT_LIMITS["voice_name"]),
            "batch_name": check.text(self.batch_name, "batch_name", max_length=TEXT_LIMITS["batch_name"]),
            "tag": check.choice(self.tag, "tag", TAGS),
            "job_id": None if self.job_id is None else check.job_id(self.job_id),
            **{
                name: _time_filter(getattr(self, name), name)
                for name in ("create_since", "create_until", "update_since", "update_until")
            },
        }
        for name, value in normalized.items():
            object.__setattr__(self, name, value)

    def query(self) -> list[tuple[str, str]]:
        """Return the query pairs (unencoded; the signer sorts and encodes them)."""
        pairs: list[tuple[str, str]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == ():
                continue
            if isinstance(value, bool):
                pairs.append((f.name, "true" if value else "false"))
            elif isinstance(value, tuple):
                pairs.append((f.name, ",".join(value)))
            else:
                pairs.append((f.name, str(value)))
        return pairs


@dataclass
class Pager:
    """Offset pagination shared by the sync and async listers.

    ``offset += len(page)`` until ``count`` is reached, a page comes back empty, or
    ``max_items`` were yielded.

    :param page_size: jobs per request (1..100).
    :param max_items: stop after this many jobs (None: all).
    :param offset: where the next page starts.
    :param yielded: jobs handed out so far.
    :param done: no further page is due.
    """

    page_size: int = MAX_PAGE
    max_items: int | None = None
    offset: int = 0
    yielded: int = 0
    done: bool = False

    def __post_init__(self) -> None:
        self.page_size = check.bounded_int(
            self.page_size, "page_size", minimum=1, maximum=MAX_PAGE, default=MAX_PAGE
        )
        if self.max_items is not None:
            self.max_items = check.bounded_int(
                self.max_items, "max_items", minimum=0, maximum=2**31, default=0
            )
        self.done = self.max_items == 0

    def accept(self, page: JobPage) -> list[VoiceTrainingJob]:
        """Take one page; return the jobs to hand out and note whether another page is due."""
        jobs = list(page.jobs)
        if self.max_items is not None:
            jobs = jobs[: max(0, self.max_items - self.yielded)]
        self.yielded += len(jobs)
        self.offset += len(page.jobs)
        if (
            not page.jobs
            or self.offset >= page.count
            or (self.max_items is not None and self.yielded >= self.max_items)
        ):
            self.done = True
        return jobs
