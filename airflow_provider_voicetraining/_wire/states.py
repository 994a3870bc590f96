"""Voice-training job states and their classes: the one definition everything else uses.

The hook, the sensor, the trigger, the operators and the emulator all classify states
through :func:`classify`; nothing keeps its own list. Unknown states (the service adds
new ones; the official SDK silently drops them) count as *in progress*, never as a crash
(the Databricks provider's hand-kept allowlist crashed on new states: apache/airflow#33882).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = [
    "COMMITTABLE_STATES",
    "DEFAULT_FAILURE_STATES",
    "FAILURE_STATES",
    "KNOWN_STATES",
    "NEEDS_ACTION_STATES",
    "SUCCESS_STATES",
    "JobState",
    "StateClass",
    "classify",
    "normalize_failure_states",
]


class JobState(str, enum.Enum):
    """Every documented value of ``state`` (SDK ``JobState``, 16 values)."""

    CREATING = "CREATING"
    SYSTEM_AUDITING = "SYSTEM_AUDITING"
    AUDITING = "AUDITING"
    WAITING_SPLIT = "WAITING_SPLIT"
    SPLITTING = "SPLITTING"
    ANNOTATING = "ANNOTATING"
    WAITING = "WAITING"
    PROCESSING = "PROCESSING"
    RESULT_REVIEW = "RESULT_REVIEW"
    UPLOADING = "UPLOADING"
    AUDIT_FAILED = "AUDIT_FAILED"
    USER_RESULT_REVIEW = "USER_RESULT_REVIEW"
    SPLIT_FAILED = "SPLIT_FAILED"
    USER_REVIEW_REJECT = "USER_REVIEW_REJECT"
    FAILED = "FAILED"
    SUCCEED = "SUCCEED"

    def __str__(self) -> str:
        return self.value


class StateClass(str, enum.Enum):
    """What a state means for automation."""

    SUCCESS = "success"
    FAILURE = "failure"
    #: The job waits for a person: AUDIT_FAILED (re-upload the data) or USER_RESULT_REVIEW.
    NEEDS_ACTION = "needs_action"
    IN_PROGRESS = "in_progress"

    def __str__(self) -> str:
        return self.value


SUCCESS_STATES: frozenset[str] = frozenset({JobState.SUCCEED.value})
FAILURE_STATES: frozenset[str] = frozenset(
    {JobState.FAILED.value, JobState.SPLIT_FAILED.value, JobState.USER_REVIEW_REJECT.value}
)
NEEDS_ACTION_STATES: frozenset[str] = frozenset(
    {JobState.AUDIT_FAILED.value, JobState.USER_RESULT_REVIEW.value}
)
KNOWN_STATES: frozenset[str] = frozenset(s.value for s in JobState)

#: What waiting code treats as failure unless told otherwise: hard failures plus the
#: states that need a person (an unattended pipeline cannot fix an audit failure).
DEFAULT_FAILURE_STATES: frozenset[str] = FAILURE_STATES | NEEDS_ACTION_STATES

#: States a job can be committed from (create -> CREATING; re-upload after AUDIT_FAILED).
COMMITTABLE_STATES: frozenset[str] = frozenset({JobState.CREATING.value, JobState.AUDIT_FAILED.value})


def classify(state: str | None) -> StateClass:
    """Return the class of ``state``; unknown or missing states are in progress."""
    if state in SUCCESS_STATES:
        return StateClass.SUCCESS
    if state in FAILURE_STATES:
        return StateClass.FAILURE
    if state in NEEDS_ACTION_STATES:
        return StateClass.NEEDS_ACTION
    return StateClass.IN_PROGRESS


def normalize_failure_states(failure_states: Iterable[str] | None) -> frozenset[str]:
    """Validate a user's ``failure_states`` and return it as a frozenset.

    It must contain every hard failure state (a FAILED job never changes, so waiting on it
    would hang until the timeout) and may add the states that need a person. Leaving a
    needs-action state out means "keep waiting while a person acts".
    """
    from airflow_provider_voicetraining._wire.errors import VoiceTrainingValidationError

    if failure_states is None:
        return DEFAULT_FAILURE_STATES
    if isinstance(failure_states, str):
        raise VoiceTrainingValidationError(
            "failure_states",
            "is a single string, not a collection of states",
            f"pass a list, e.g. {sorted(DEFAULT_FAILURE_STATES)}",
        )
    chosen = frozenset(str(s).strip().upper() for s in failure_states)
    unknown = chosen - FAILURE_STATES - NEEDS_ACTION_STATES
    if unknown:
        raise VoiceTrainingValidationError(
            "failure_states",
            f"contains {sorted(unknown)}, which are not failure or needs-action states",
            f"choose from {sorted(FAILURE_STATES | NEEDS_ACTION_STATES)}",
        )
    missing = FAILURE_STATES - chosen
    if missing:
        raise VoiceTrainingValidationError(
            "failure_states",
            f"leaves out the terminal failure states {sorted(missing)}; a job in them never "
            "changes, so the wait would only end at its timeout",
            f"include {sorted(FAILURE_STATES)} and add any of {sorted(NEEDS_ACTION_STATES)} "
            "that should fail the task",
        )
    return chosen
