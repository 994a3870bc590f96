"""Public import path of every error this provider raises.

Most are plain exceptions from the wire layer: a task fails on them the usual way, retries
included. The outcomes a retry cannot change are ``AirflowFailException`` (never retried) and
are defined here: :class:`VoiceTrainingJobFailedError`, :class:`VoiceTrainingWaitTimeoutError`,
:class:`VoiceRecordingsRejectedError` and :class:`VoiceTrainingAmbiguousJobError`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_voicetraining._wire.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingConnectionError,
    VoiceTrainingCreateUnknownError,
    VoiceTrainingError,
    VoiceTrainingJobNotFinishedError,
    VoiceTrainingNotFoundError,
    VoiceTrainingPackageError,
    VoiceTrainingQuotaError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
    VoiceTrainingValidationError,
    is_transient,
)
from airflow_provider_voicetraining.version_compat import AirflowFailException

__all__ = [
    "VoiceRecordingsRejectedError",
    "VoiceTrainingAPIError",
    "VoiceTrainingAmbiguousJobError",
    "VoiceTrainingAuthError",
    "VoiceTrainingConnectionError",
    "VoiceTrainingCreateUnknownError",
    "VoiceTrainingError",
    "VoiceTrainingJobFailedError",
    "VoiceTrainingJobNotFinishedError",
    "VoiceTrainingNotFoundError",
    "VoiceTrainingPackageError",
    "VoiceTrainingQuotaError",
    "VoiceTrainingResponseError",
    "VoiceTrainingServerError",
    "VoiceTrainingThrottledError",
    "VoiceTrainingTransportError",
    "VoiceTrainingValidationError",
    "VoiceTrainingWaitTimeoutError",
    "is_transient",
]


class VoiceTrainingJobFailedError(VoiceTrainingError, AirflowFailException):  # type: ignore[misc]
    """The job ended in a failure state (or one that needs a person); not retried.

    :param message: what failed, with the service's code and reason.
    :param details: the documented failure-details dict (``FailureDetails.to_dict()``).
    """

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        self.details = details
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.details))


class VoiceTrainingWaitTimeoutError(VoiceTrainingError, AirflowFailException):  # type: ignore[misc]
    """The wait reached ``wait_timeout`` (or ``execution_timeout``) before the job finished; not retried.

    :param message: the job, how long it was waited for and its last state.
    :param job_id: the job.
    """

    def __init__(self, message: str, job_id: str | None = None) -> None:
        self.job_id = job_id
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.job_id))


class VoiceRecordingsRejectedError(VoiceTrainingError, AirflowFailException):  # type: ignore[misc]
    """The recording check rated recordings out of range; not retried (record them again).

    :param message: what is out of range and the service's advice.
    :param assessment: the assessment dict (``VoiceAssessment.to_dict()``).
    """

    def __init__(self, message: str, assessment: dict[str, Any]) -> None:
        self.assessment = assessment
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.assessment))


class VoiceTrainingAmbiguousJobError(VoiceTrainingError, AirflowFailException):  # type: ignore[misc]
    """A retry sees committed jobs it cannot prove to be its own; it creates none rather than guess.

    :param message: the jobs seen and how to resolve it.
    :param job_ids: those jobs.
    """

    def __init__(self, message: str, job_ids: list[str]) -> None:
        self.job_ids = list(job_ids)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.job_ids))
