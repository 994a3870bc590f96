"""``VoiceTrainingJobSensor``: wait until a voice-training job is terminal.

Poke, reschedule or deferrable. Success returns the job (a JSON-safe dict) as XCom; a failure
state fails the task (without retries: retrying cannot change a failed job) with the failure
details in the message and under the XCom key ``failure_details``. States that wait on a
person (``AUDIT_FAILED``, ``USER_RESULT_REVIEW``) fail by default; leave them out of
``failure_states`` to keep waiting while someone acts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_voicetraining import DEFAULT_CONN_ID
from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._tasks import arguments
from airflow_provider_voicetraining._tasks.waiting import JobWaitMixin
from airflow_provider_voicetraining._wait_rules import Verdict
from airflow_provider_voicetraining.assets import VOICE_ALIAS, declare_voice_alias, emit_voice_event
from airflow_provider_voicetraining.errors import VoiceTrainingError, VoiceTrainingJobFailedError
from airflow_provider_voicetraining.lineage import VoiceLineageMixin
from airflow_provider_voicetraining.links.voice_training import VoiceTrainingJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["VoiceTrainingJobSensor"]

DEFAULT_TIMEOUT = 7 * 24 * 3600.0


class VoiceTrainingJobSensor(VoiceLineageMixin, JobWaitMixin, BaseSensorOperator):
    """Wait for a MetaStudio voice-training job to finish.

    :param job_id: the job (templated).
    :param metastudio_conn_id: connection id (templated; default ``metastudio_default``).
    :param app_user_id: ``X-App-UserId`` the job was created with (templated).
    :param failure_states: states that fail the sensor. Default: ``FAILED``, ``SPLIT_FAILED``,
        ``USER_REVIEW_REJECT`` and the needs-a-person states ``AUDIT_FAILED``,
        ``USER_RESULT_REVIEW``. Must include the first three.
    :param max_consecutive_errors: transient API errors (network, 429, 5xx) tolerated in a row,
        each after the hook's own retries, before the sensor fails. In reschedule mode each
        poke starts afresh (Airflow clears task state between reschedules), so there the
        sensor ``timeout`` bounds persistent errors.
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
        Pokes once in the worker first; defers only if the job is not done.
    :param poke_interval: seconds between polls (default 60; training takes hours).
    :param timeout: seconds before the sensor times out (default 7 days). In deferrable mode
        the trigger reports the timeout itself after a final poll; ``soft_fail`` turns any
        failure or timeout into a skip.
    :param asset_alias: on success the voice's ``metastudio://`` asset gets an event through
        this :class:`~airflow.sdk.AssetAlias` (added to ``outlets``; default
        ``metastudio_voices``; None: no event).
    :param shared_polling: deferred, share the triggerer's list-based poller for this
        connection and app user (default; one list call serves hundreds of waits) instead of
        polling this job on its own every ``poke_interval``.
    """

    template_fields: Sequence[str] = ("job_id", "app_user_id", "metastudio_conn_id")
    ui_color = "#d6ecf3"
    operator_extra_links = (VoiceTrainingJobLink(),)

    def __init__(
        self,
        *,
        job_id: str,
        metastudio_conn_id: str = DEFAULT_CONN_ID,
        app_user_id: str | None = None,
        failure_states: Iterable[str] | None = None,
        max_consecutive_errors: int = 5,
        deferrable: bool | None = None,
        poke_interval: float = 60.0,
        timeout: float = DEFAULT_TIMEOUT,
        asset_alias: str | None = VOICE_ALIAS,
        shared_polling: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.shared_polling = bool(shared_polling)
        self.job_id = job_id
        self.metastudio_conn_id = metastudio_conn_id
        self.app_user_id = app_user_id
        self.failure_states = arguments.failure_states(failure_states)
        self.max_consecutive_errors = arguments.max_consecutive_errors(max_consecutive_errors)
        self.deferrable = arguments.deferrable(deferrable)
        self._budget = self.new_budget()
        self._states: Any = None
        self.asset_alias = asset_alias
        declare_voice_alias(self, asset_alias)

    @property
    def poll_interval(self) -> float:  # type: ignore[override]
        """The trigger polls at the sensor's ``poke_interval``."""
        return float(self.poke_interval)

    # -- poke / reschedule ---------------------------------------------------------------------
    def poke(self, context: Context) -> PokeReturnValue | bool:
        """Poll once: done with the job dict on success, raise on failure, else not done."""
        job_id = self.checked_job_id(self.job_id)
        if self._states is None:
            self._states = self.new_state_log(job_id)
            self.publish_console_url(context, job_id)
        # a poke ends with the sensor's timeout at the latest (counted from this process's first
        # poke: in reschedule mode Airflow checks the overall timeout between pokes)
        deadline = self._states.started_at + float(self.timeout)
        try:
            job, verdict = self.poll_once(job_id, deadline)
        except VoiceTrainingError as exc:
            if not self._budget.record(exc):
                raise
            self.log.warning(
                "Poll of job %s failed (%d/%d transient errors tolerated): %s",
                job_id,
                self._budget.consecutive,
                self._budget.limit,
                exc,
            )
            return False
        self._budget.reset()
        self._states.observe(job.state)
        if verdict is Verdict.SUCCESS:
            return PokeReturnValue(is_done=True, xcom_value=self._voice_ready(context, job.to_dict()))
        if verdict is Verdict.FAILED:
            self.failed_job_found(context, job, deadline)
        return False

    # -- deferrable ----------------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        """Poke (poke/reschedule modes), or poke once and then defer to the trigger."""
        if not self.deferrable:
            return super().execute(context)
        started_at = time.time()
        try:
            done = self.poke(context)
        except VoiceTrainingJobFailedError as exc:
            if compat.skips_failures(self):
                raise compat.AirflowSkipException(f"Skipping due to soft_fail: {exc}") from exc
            raise
        if isinstance(done, PokeReturnValue) and done.is_done:
            return done.xcom_value
        job_id = self.checked_job_id(self.job_id)
        self.log.info("Job %s is not done; deferring (poll every %ss)", job_id, self.poll_interval)
        return self.wait_for_job(context, job_id, started_at + float(self.timeout), started_at)

    def succeeded(self, context: Context, job: dict[str, Any]) -> Any:
        """Return the job dict (the sensor's XCom)."""
        self.log.info("Job %s succeeded: asset_id %s", job.get("job_id"), job.get("asset_id"))
        return self._voice_ready(context, job)

    def _voice_ready(self, context: Context, job: dict[str, Any]) -> dict[str, Any]:
        self.note_job(job)
        emit_voice_event(self, context, job)
        return job

    def job_failed(self, context: Context, details: dict[str, Any], message: str) -> Any:
        """Note the failure for lineage, then fail (``failure_details`` XCom)."""
        self.note_job(details)
        return super().job_failed(context, details, message)

    def timed_out(self, context: Context, event: dict[str, Any]) -> Any:
        """Raise ``AirflowSensorTimeout`` (``soft_fail`` turns it into a skip)."""
        raise compat.AirflowSensorTimeout(event["message"])
