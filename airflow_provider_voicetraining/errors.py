"""Public import path of every error this provider raises.

The wire layer's errors (bad input, API errors, transport failures, garbled answers) are plain
exceptions defined in :mod:`airflow_provider_voicetraining.wire.errors`; a task fails on them the
usual way, retries included. A failed *job* is different: retrying the task cannot change it, so
:class:`VoiceTrainingJobFailedError` is an ``AirflowFailException`` and is defined here, in the
Airflow layer.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_voicetraining.utils.compat import AirflowFailException
from airflow_provider_voicetraining.wire.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingConnectionError,
    VoiceTrainingError,
    VoiceTrainingJobNotFinishedError,
    VoiceTrainingNotFoundError,
    VoiceTrainingPackageError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
    VoiceTrainingValidationError,
    is_transient,
)

__all__ = [
    "VoiceTrainingAPIError",
    "VoiceTrainingAuthError",
    "VoiceTrainingConnectionError",
    "VoiceTrainingError",
    "VoiceTrainingJobFailedError",
    "VoiceTrainingJobNotFinishedError",
    "VoiceTrainingNotFoundError",
    "VoiceTrainingPackageError",
    "VoiceTrainingResponseError",
    "VoiceTrainingServerError",
    "VoiceTrainingThrottledError",
    "VoiceTrainingTransportError",
    "VoiceTrainingValidationError",
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
