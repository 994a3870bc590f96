"""What "waiting for a job" means, shared by the sensor, the trigger and the operators.

* :func:`decide` turns a job into *success*, *failed* or *keep waiting* (one rule for all);
* :class:`ErrorBudget` lets transient API errors pass until too many happen in a row;
* :class:`StateLog` logs each state change once (old -> new, elapsed time), not every poll, and
  keeps them for the event (:func:`describe_history` turns them into one line for the task log);
* :func:`make_event` / :func:`check_event` define the trigger event, the one payload shape
  that also reaches XCom.

This module imports nothing heavy: DAG files import the sensor and operators on every parse.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining._wire.errors import (
    VoiceTrainingError,
    VoiceTrainingResponseError,
    is_transient,
)
from airflow_provider_voicetraining._wire.limits import MAX_MESSAGE
from airflow_provider_voicetraining._wire.states import KNOWN_STATES, StateClass, classify

if TYPE_CHECKING:  # models (dataclasses, pendulum) load with the hook, not with DAG files
    from airflow_provider_voicetraining._wire.models import VoiceTrainingJob

EVENT_SUCCESS = "success"
EVENT_FAILED = "failed"
EVENT_TIMEOUT = "timeout"
EVENT_ERROR = "error"
EVENT_STATUSES = frozenset({EVENT_SUCCESS, EVENT_FAILED, EVENT_TIMEOUT, EVENT_ERROR})

#: What is waited for: a voice-training job (``GET P/user/jobs/{id}``, success needs an
#: ``asset_id``) or a short job, the recording check (``GET P/user/short-jobs/{id}``).
KIND_VOICE = "voice"
KIND_SHORT = "short"
JOB_KINDS = (KIND_VOICE, KIND_SHORT)

#: XCom keys (documented in docs/xcom-assets-lineage.md).
XCOM_JOB_ID = "job_id"
XCOM_JOB = "job"
XCOM_FAILURE = "failure_details"
XCOM_CONSOLE_URL = "console_url"
XCOM_ASSESSMENT = "assessment"
#: The try that deferred, before Airflow 3.3 (how a resume tells its own event from an earlier
#: try's; see version_compat.record_deferral).
XCOM_DEFERRED_IN_TRY = "deferred_in_try"


class Verdict(str, enum.Enum):
    SUCCESS = "success"
    FAILED = "failed"
    WAIT = "wait"


def look_deadline(end_time: float | None, attempt: float) -> float | None:
    """When one look at a job must end: by ``end_time`` (the wait's deadline), but always with at
    least one attempt's time (``attempt`` seconds), so the final look at or after the deadline is
    a look, never outliving ``end_time`` by more than one attempt."""
    return None if end_time is None else max(end_time, time.time() + attempt)


def decide(job: VoiceTrainingJob, failure_states: frozenset[str], kind: str = KIND_VOICE) -> Verdict:
    """Success, failure (the state is in ``failure_states``) or keep waiting.

    Unknown states keep waiting. A voice job's ``SUCCEED`` without ``asset_id`` is an API
    anomaly and raises (downstream tasks need the id; pretending success would break them
    later); a short job has no asset.
    """
    state_class = classify(job.state)
    if state_class is StateClass.SUCCESS:
        if kind == KIND_VOICE and not job.asset_id:
            raise VoiceTrainingResponseError(
                f"Job {job.job_id} is SUCCEED but the service returned no asset_id; the voice model "
                "cannot be used downstream. Check the job in the MetaStudio console.",
                operation="show_job",
                request_id=None,
            )
        return Verdict.SUCCESS
    if job.state in failure_states:
        return Verdict.FAILED
    return Verdict.WAIT


class ErrorBudget:
    """Counts consecutive transient errors; permanent errors (4xx but 429, bad input) raise at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.consecutive = 0

    def record(self, exc: VoiceTrainingError) -> bool:
        """Return True if waiting may go on after ``exc``; False if the budget is spent or the
        error is permanent."""
        if not is_transient(exc):
            return False
        self.consecutive += 1
        return self.consecutive <= self.limit

    def reset(self) -> None:
        self.consecutive = 0


#: state changes kept in a trigger event (the first ones and the latest ones; a job that flaps
#: between states for days must not grow the event without bound)
MAX_HISTORY = 40


class StateLog:
    """Logs a job's state changes once each, with the time since waiting began, and keeps them
    as :attr:`history` (``[state, seconds since waiting began]`` pairs) for the trigger event.

    A state the provider does not know is a warning, once per state of the job: the wait goes
    on (unknown states count as in progress), and the person reading learns it early.
    """

    def __init__(self, log: logging.Logger | Any, job_id: str, started_at: float | None = None) -> None:
        self.log = log
        self.job_id = job_id
        self.started_at = time.time() if started_at is None else started_at
        self.last: str | None = None
        self.history: list[list[Any]] = []
        self.dropped = 0

    def observe(self, state: str) -> bool:
        if state == self.last:
            return False
        elapsed = time.time() - self.started_at
        if self.last is None:
            self.log.info("Job %s is %s (%s) after %.0fs", self.job_id, state, classify(state).value, elapsed)
        else:
            self.log.info("Job %s: %s -> %s after %.0fs", self.job_id, self.last, state, elapsed)
        if state not in KNOWN_STATES:
            self.log.warning(
                "Job %s is in the state %r, which this provider does not know: it counts as in "
                "progress, so the wait goes on until a known state or its timeout. Known states: %s",
                self.job_id,
                state,
                ", ".join(sorted(KNOWN_STATES)),
            )
        self.last = state
        self.history.append([state, round(elapsed, 1)])
        if len(self.history) > MAX_HISTORY:  # keep the first change, drop the oldest after it
            del self.history[1]
            self.dropped += 1
        return True


def describe_history(job_id: str, history: Any) -> str | None:
    """One line a person can read afterwards: ``Job X went CREATING (0s) -> ... -> SUCCEED (812s)``.

    ``None`` for an event without a usable history (an older trigger's, or none observed)."""
    if not isinstance(history, list) or not history:
        return None
    steps = []
    for entry in history:
        if isinstance(entry, list) and len(entry) == 2:
            steps.append(f"{entry[0]} ({float(entry[1]):.0f}s)")
        elif entry == "...":
            steps.append("...")
    return f"Job {job_id} went " + " -> ".join(steps) if steps else None


def make_event(
    status: str,
    job_id: str,
    *,
    message: str,
    job: Mapping[str, Any] | None = None,
    failure: Mapping[str, Any] | None = None,
    states: StateLog | None = None,
) -> dict[str, Any]:
    """The trigger event payload (JSON-safe): ``status``, ``job_id``, ``message``, ``job``
    (the job dict, when known), ``failure`` (the failure-details dict, on ``failed``) and
    ``history``: the state changes seen while waiting, ``[state, seconds]`` pairs (``"..."``
    where older ones were dropped), written into the task log when the task resumes."""
    assert status in EVENT_STATUSES
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    history: list[Any] = []
    if states is not None:
        history = [list(entry) for entry in states.history]
        if states.dropped:
            history.insert(1, "...")
    return {
        "status": status,
        "job_id": job_id,
        "message": message,
        "job": dict(job) if job is not None else None,
        "failure": dict(failure) if failure is not None else None,
        "history": history,
    }


def check_event(event: Any) -> dict[str, Any]:
    """Reject what is not one of our events (``None``, a foreign dict) instead of guessing
    (the dbt provider treated unknown statuses as success: apache/airflow PR #35597)."""
    if not isinstance(event, dict) or event.get("status") not in EVENT_STATUSES:
        raise VoiceTrainingError(
            f"The trigger resumed the task with an unexpected event {str(event)[:200]!r}; "
            "expected a dict with status in " + ", ".join(sorted(EVENT_STATUSES))
        )
    return event
