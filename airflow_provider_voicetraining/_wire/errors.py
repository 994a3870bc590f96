"""Typed errors: what went wrong, where, and what to check.

Every API error carries the HTTP status, the service's ``error_code`` / ``error_msg`` and the
gateway's ``X-Request-Id``; messages never contain credentials (server text is redacted first).
Plain exceptions: a task fails on them the usual way, with retries. The outcomes a retry cannot
change are defined above, in :mod:`airflow_provider_voicetraining.errors`.
"""

from __future__ import annotations

from typing import Any


class VoiceTrainingError(Exception):
    """Base class of every error this provider raises."""


class VoiceTrainingValidationError(VoiceTrainingError, ValueError):
    """Bad input, detected before anything was sent.

    :param field: the argument or connection field at fault.
    :param problem: what is wrong with it (never the value of a secret).
    :param fix: how to fix it.
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(f"Invalid {field}: {problem}. Fix: {fix}.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.problem, self.fix))


class VoiceTrainingConnectionError(VoiceTrainingValidationError):
    """The Airflow connection is unusable (missing or malformed field)."""


class VoiceTrainingTransportError(VoiceTrainingError):
    """The request never got an HTTP answer (DNS, refused, reset, TLS, timeout), after retries.

    :param message: what happened and what to check.
    :param operation: the API operation (``show_job`` ...).
    :param attempts: attempts made.
    :param may_have_reached: the last attempt may have been processed by the service (a reset
        or a read timeout after the request was sent), unlike a refused connection.
    :param permanent: no later attempt can succeed either (a server certificate that does not
        verify): not retried, and a wait ends on it at once.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        attempts: int,
        may_have_reached: bool = True,
        permanent: bool = False,
    ) -> None:
        self.operation = operation
        self.attempts = attempts
        self.may_have_reached = may_have_reached
        self.permanent = permanent
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class VoiceTrainingAPIError(VoiceTrainingError):
    """The service answered with an error status.

    :param message: what happened and what to check.
    :param operation: the API operation (``show_job`` ...).
    :param status_code: the HTTP status.
    :param error_code: the service's ``error_code`` (``MSS.00000003``, ``APIG.0301`` ...).
    :param error_msg: the service's ``error_msg``, redacted.
    :param request_id: the gateway's ``X-Request-Id`` (quote it to Huawei support).
    :param attempts: attempts made.
    :param retry_after: seconds the service asked to wait (``Retry-After``), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status_code: int,
        error_code: str | None,
        error_msg: str | None,
        request_id: str | None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.operation = operation
        self.status_code = status_code
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))

    @property
    def is_transient(self) -> bool:
        """Whether a later attempt may succeed (429 and 5xx)."""
        return self.status_code == 429 or self.status_code >= 500


class VoiceTrainingAuthError(VoiceTrainingAPIError):
    """401/403: bad signature, unknown or locked AK, expired token, missing permission."""


class VoiceTrainingNotFoundError(VoiceTrainingAPIError):
    """404: the job (or route) does not exist in this project."""


class VoiceTrainingThrottledError(VoiceTrainingAPIError):
    """429 after all retries (APIGW.0308)."""


class VoiceTrainingServerError(VoiceTrainingAPIError):
    """5xx after all retries."""


class VoiceTrainingResponseError(VoiceTrainingError):
    """A 2xx answer whose body is not what the API documents (not JSON, missing ``state``...).

    :param message: what was wrong with the body.
    :param operation: the API operation (``show_job`` ...).
    :param request_id: the gateway's ``X-Request-Id``.
    :param attempts: attempts made.
    """

    def __init__(self, message: str, *, operation: str, request_id: str | None, attempts: int = 1) -> None:
        self.operation = operation
        self.request_id = request_id
        self.attempts = attempts
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class VoiceTrainingCreateUnknownError(VoiceTrainingError):
    """A create got no usable answer and its job was not found (or not told apart); not resent.

    A second create could train the voice twice.

    :param message: what happened, what to check and how to retry safely.
    :param voice_name: the voice name of the create.
    :param batch_name: its batch name (the create operator's task-instance identity), if any.
    :param job_ids: the candidate jobs when several matched (none: no job was found).
    """

    def __init__(
        self, message: str, *, voice_name: str, batch_name: str | None = None, job_ids: tuple[str, ...] = ()
    ) -> None:
        self.voice_name = voice_name
        self.batch_name = batch_name
        self.job_ids = tuple(job_ids)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class VoiceTrainingJobNotFinishedError(VoiceTrainingError):
    """The job is still in progress and the caller asked not to wait."""


class VoiceTrainingQuotaError(VoiceTrainingError):
    """The tenant has no training quota left for the edition; nothing was created.

    :param message: the edition, the counter and what to do.
    :param edition: the edition (``basic`` ...).
    :param quota_key: its ``resource_available_nums`` counter.
    :param available: what the counter said (0).
    """

    def __init__(self, message: str, *, edition: str, quota_key: str, available: int) -> None:
        self.edition = edition
        self.quota_key = quota_key
        self.available = available
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


class VoiceTrainingPackageError(VoiceTrainingValidationError):
    """The local training package is missing, not a zip, or lacks files the edition needs."""


def _rebuild(cls: type[Exception], args: tuple[Any, ...], state: dict[str, Any]) -> Exception:
    exc = Exception.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


def is_transient(exc: BaseException) -> bool:
    """Tell whether a later attempt may not see ``exc`` (network, 429, 5xx, garbled body).

    The one rule for the hook's retries and the waits' error budgets: what the hook calls
    permanent (a 4xx but 429, a certificate that does not verify, bad input) is not transient.
    """
    if isinstance(exc, VoiceTrainingAPIError):
        return exc.is_transient
    if isinstance(exc, VoiceTrainingTransportError):
        return not exc.permanent
    return isinstance(exc, VoiceTrainingResponseError)
