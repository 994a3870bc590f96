"""Job lifecycle as pure functions of time: no background tasks, no timers.

At commit the emulator fixes a *timeline* (a list of states with nominal durations). The
state at any moment is then looked up from ``(now - commit_time) / time_scale``. This keeps
runs deterministic, lets one server hold thousands of jobs at no cost, and makes the same
job take 0.2 s in a unit test (``time_scale=0.01``) or hours in a demo (``time_scale=3600``).

The outcome rule (control-API override, then the package audit, then the ``voice_name``
prefix, else success) is documented for users in docs/emulator.md; this module
implements it (:data:`PREFIX_OUTCOMES`, :func:`outcome_from_voice_name`, :func:`audit_package`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_voicetraining._wire.packages import missing_files, normalized_names
from airflow_provider_voicetraining._wire.states import JobState
from airflow_provider_voicetraining._wire.vocabulary import Edition, edition_by_job_type

S = JobState

#: Nominal seconds spent in each transient state at ``time_scale=1.0``. Basic/middle jobs
#: take 19 s to SUCCEED, advance/third-party jobs (which split and annotate) 24 s.
DEFAULT_DURATIONS: dict[str, float] = {
    S.SYSTEM_AUDITING.value: 2.0,
    S.AUDITING.value: 3.0,
    S.WAITING_SPLIT.value: 1.0,
    S.SPLITTING.value: 2.0,
    S.ANNOTATING.value: 2.0,
    S.WAITING.value: 3.0,
    S.PROCESSING.value: 8.0,
    S.RESULT_REVIEW.value: 2.0,
    S.USER_RESULT_REVIEW.value: 3.0,
    S.UPLOADING.value: 3.0,
}

#: Short (voice assessment) jobs: queue, assess, done.
SHORT_JOB_DURATIONS: dict[str, float] = {S.WAITING.value: 1.0, S.PROCESSING.value: 2.0}

#: Terminal outcomes and their aliases accepted by the control API.
OUTCOME_ALIASES: dict[str, str] = {
    "SUCCEED": S.SUCCEED.value,
    "SUCCESS": S.SUCCEED.value,
    "FAILED": S.FAILED.value,
    "FAIL": S.FAILED.value,
    "AUDIT_FAILED": S.AUDIT_FAILED.value,
    "AUDITFAIL": S.AUDIT_FAILED.value,
    "AUDIT_FAIL": S.AUDIT_FAILED.value,
    "SPLIT_FAILED": S.SPLIT_FAILED.value,
    "SPLITFAIL": S.SPLIT_FAILED.value,
    "SPLIT_FAIL": S.SPLIT_FAILED.value,
    "USER_RESULT_REVIEW": S.USER_RESULT_REVIEW.value,
    "REVIEW": S.USER_RESULT_REVIEW.value,
    "USER_REVIEW_REJECT": S.USER_REVIEW_REJECT.value,
    "REJECT": S.USER_REVIEW_REJECT.value,
}

#: ``voice_name`` prefixes (checked longest first) and the outcome they select.
PREFIX_OUTCOMES: tuple[tuple[str, str], ...] = (
    ("auditfail-", S.AUDIT_FAILED.value),
    ("splitfail-", S.SPLIT_FAILED.value),
    ("review-", S.USER_RESULT_REVIEW.value),
    ("reject-", S.USER_REVIEW_REJECT.value),
    ("fail-", S.FAILED.value),
)

DEFAULT_FAILED_CODE = "MSS.20001001"
DEFAULT_FAILED_REASON = (
    "Model training failed: the acoustic model did not converge on the uploaded recordings (emulated failure)"
)
DEFAULT_SPLIT_FAILED_CODE = "MSS.20002001"
DEFAULT_SPLIT_FAILED_REASON = (
    "Audio splitting failed: no sentence boundaries could be detected in the long recording "
    "(emulated failure)"
)
SHORT_FAILED_CODE = "MSS.20004001"
AUDIT_ERROR_CODE = "MSS.20003001"
MISSING_FILE_CODE = "MSS.20003002"
NOT_A_ZIP_CODE = "MSS.20003003"


@dataclass(frozen=True)
class Step:
    """One state of a timeline; ``duration`` is nominal seconds, ``None`` for the last state."""

    state: str
    duration: float | None


def normalize_outcome(value: str) -> str:
    """Map a control-API outcome (``"fail"``, ``"SUCCEED"``, ``"PROCESSING"`` ...) to a state.

    A terminal outcome is one of :data:`OUTCOME_ALIASES`; any other known state means "progress
    up to that state and stay there" (to test timeouts). ``ValueError`` otherwise.
    """
    key = value.strip().upper().replace("-", "_")
    if key in OUTCOME_ALIASES:
        return OUTCOME_ALIASES[key]
    if key in {s.value for s in JobState} and key not in {S.CREATING.value}:
        return key
    raise ValueError(
        f"unknown outcome {value!r}: use one of {sorted(set(OUTCOME_ALIASES.values()))} "
        "or an in-progress state to hold the job there"
    )


def outcome_from_voice_name(voice_name: str | None, commit_number: int) -> str:
    """Outcome selected by the ``voice_name`` prefix (rule 3 of the module docstring)."""
    name = (voice_name or "").lower()
    for prefix, outcome in PREFIX_OUTCOMES:
        if name.startswith(prefix):
            if outcome == S.AUDIT_FAILED.value and commit_number > 1:
                return S.SUCCEED.value
            return outcome
    return S.SUCCEED.value


def _path(job_type: str, outcome: str) -> list[str]:
    """The ordered states a job passes for ``outcome`` (terminal state last)."""
    if outcome == S.AUDIT_FAILED.value:
        return [S.SYSTEM_AUDITING.value, S.AUDIT_FAILED.value]
    states = [S.SYSTEM_AUDITING.value, S.AUDITING.value]
    split = edition_of(job_type).splits or outcome in {
        S.SPLIT_FAILED.value,
        S.WAITING_SPLIT.value,
        S.SPLITTING.value,
        S.ANNOTATING.value,
    }
    if split:
        states += [S.WAITING_SPLIT.value, S.SPLITTING.value]
        if outcome == S.SPLIT_FAILED.value:
            return [*states, S.SPLIT_FAILED.value]
        states.append(S.ANNOTATING.value)
    states += [S.WAITING.value, S.PROCESSING.value]
    if outcome == S.FAILED.value:
        return [*states, S.FAILED.value]
    if outcome in {S.RESULT_REVIEW.value, S.USER_RESULT_REVIEW.value}:
        return [*states, S.RESULT_REVIEW.value, S.USER_RESULT_REVIEW.value]
    if outcome == S.USER_REVIEW_REJECT.value:
        return [*states, S.RESULT_REVIEW.value, S.USER_RESULT_REVIEW.value, S.USER_REVIEW_REJECT.value]
    return [*states, S.UPLOADING.value, S.SUCCEED.value]


def build_timeline(job_type: str, outcome: str, durations: Mapping[str, float] | None = None) -> list[Step]:
    """Timeline of a voice-training job from commit to ``outcome``.

    ``outcome`` is a state from :func:`normalize_outcome`. For an in-progress "hold" outcome
    the path leading to it is cut there, and the job stays in that state.
    """
    table = {**DEFAULT_DURATIONS, **(durations or {})}
    path = _path(job_type, outcome)
    path = path[: path.index(outcome) + 1] if outcome in path else _path(job_type, S.SUCCEED.value)
    return [Step(state, None if i == len(path) - 1 else table[state]) for i, state in enumerate(path)]


def build_short_timeline(outcome: str, durations: Mapping[str, float] | None = None) -> list[Step]:
    """Timeline of a short (voice assessment) job: WAITING -> PROCESSING -> SUCCEED or FAILED."""
    table = {**SHORT_JOB_DURATIONS, **(durations or {})}
    terminal = S.FAILED.value if outcome == S.FAILED.value else S.SUCCEED.value
    path = [S.WAITING.value, S.PROCESSING.value, terminal]
    if outcome in path[:2]:
        path = path[: path.index(outcome) + 1]
    return [Step(state, None if i == len(path) - 1 else table[state]) for i, state in enumerate(path)]


@dataclass(frozen=True)
class Position:
    """Where a timeline stands: current state, when it began, and the states passed so far."""

    state: str
    entered_at: float
    passed: list[tuple[str, float]]


def position(steps: list[Step], started_at: float, time_scale: float, now: float) -> Position:
    """State of a timeline that started at ``started_at`` (epoch seconds) at time ``now``.

    ``passed`` lists ``(state, entered_at)`` for every state reached, current one included.
    """
    passed: list[tuple[str, float]] = []
    t = started_at
    for step in steps:
        passed.append((step.state, t))
        if step.duration is None:
            break
        nxt = t + step.duration * time_scale
        if now < nxt:
            break
        t = nxt
    state, entered = passed[-1]
    return Position(state=state, entered_at=entered, passed=passed)


def offset_of(steps: list[Step], state: str) -> float | None:
    """Nominal seconds from the start of ``steps`` to entering ``state`` (``None`` if absent)."""
    total = 0.0
    for step in steps:
        if step.state == state:
            return total
        total += step.duration or 0.0
    return None


def edition_of(job_type: str) -> Edition:
    """The edition of a job type; types without a create endpoint (seeded ``THIRD_PARTY_LJZN``,
    ``FLEXUS`` jobs) are treated as long-recording editions."""
    return edition_by_job_type(job_type) or Edition(
        job_type.lower(), job_type, "", None, True, "", job_type.lower()
    )


def _audit_error(audio: str | None, text: str | None, code: str, message: str) -> dict[str, str | None]:
    return {"audio_name": audio, "text_name": text, "error_code": code, "error_message": message}


def audit_names(job_type: str, names: set[str]) -> list[dict[str, str | None]]:
    """Audit errors for the training files present (normalized names), by the provider's own
    package rule (:func:`airflow_provider_voicetraining._wire.packages.missing_files`)."""
    errors = []
    for audio, text, missing in missing_files(edition_of(job_type), names):
        if not audio:
            errors.append(
                _audit_error(
                    None, None, MISSING_FILE_CODE, "The training package contains no .wav recording."
                )
            )
        else:
            message = f"Missing from the training data: {', '.join(missing)}."
            errors.append(_audit_error(audio, text, MISSING_FILE_CODE, message))
    return errors


def audit_package(job_type: str, is_zip: bool, members: list[str]) -> list[dict[str, str | None]]:
    """Audit errors for an uploaded package (empty when it is acceptable)."""
    if not is_zip:
        return [_audit_error(None, None, NOT_A_ZIP_CODE, "The training package is not a valid zip archive.")]
    return audit_names(job_type, normalized_names(members))


def audit_segments(job_type: str, audio: set[int], text: set[int]) -> list[dict[str, str | None]]:
    """Audit errors for SEGMENT uploads (same edition rules as a package)."""
    return audit_names(job_type, {f"{i}.wav" for i in audio} | {f"{i}.txt" for i in text})


def prefix_audit_errors() -> list[dict[str, str | None]]:
    """The audit errors reported for an ``auditfail-`` voice name."""
    return [
        {
            "audio_name": "3.wav",
            "text_name": "3.txt",
            "error_code": AUDIT_ERROR_CODE,
            "error_message": "The recording does not match its text (emulated audit failure).",
        },
        {
            "audio_name": "7.wav",
            "text_name": "7.txt",
            "error_code": AUDIT_ERROR_CODE,
            "error_message": "Background noise is too loud: SNR below 30 dB (emulated audit failure).",
        },
    ]
