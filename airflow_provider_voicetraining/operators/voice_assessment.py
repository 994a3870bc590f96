"""``AssessVoiceRecordingsOperator``: MetaStudio's recording check, before paying for training.

The check is a short job (``VOICE_ASSESS``): create, upload a zip of recordings, commit, wait,
then read ``assess_result`` into a ``VoiceAssessment``. Recordings out of range fail the task
(or, with ``fail_on_bad_recordings=False``, are returned for a branch). XCom: ``return_value``
and ``assessment`` (``VoiceAssessment.to_dict()``), plus ``job_id``, ``console_url``, ``job`` and
``failure_details`` as for the other operators.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining._tasks import arguments
from airflow_provider_voicetraining._wait_rules import KIND_SHORT, XCOM_ASSESSMENT, XCOM_JOB_ID
from airflow_provider_voicetraining.links.voice_training import VoiceTrainingJobLink
from airflow_provider_voicetraining.operators.voice_training import _ResultHandling

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["AssessVoiceRecordingsOperator"]

#: A check takes minutes, not the days a training may take.
DEFAULT_ASSESS_TIMEOUT = 3600.0


class AssessVoiceRecordingsOperator(_ResultHandling):
    """Run MetaStudio's audio-quality check on a zip of recordings and push the assessment.

    :param package: local path of a zip holding the ``.wav`` recordings to check (templated).
    :param language: ``CN`` (the service's default) or ``EN``.
    :param fail_on_bad_recordings: fail the task (``VoiceRecordingsRejectedError``, not
        retried) when a property is out of range (default True); False returns the
        assessment either way, ``passed`` telling which.
    :param app_user_id: ``X-App-UserId`` to run the check for (templated).
    :param metastudio_conn_id: connection id (templated).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls while waiting.
    :param wait_timeout: give up waiting after this many seconds (default 1 hour; a timeout
        fails the task without retry).
    :param failure_states: as for the sensor.
    :param fail_on_job_failure: if False, a failed check does not fail the task: its failure
        details are returned.
    :param max_consecutive_errors: transient API errors tolerated in a row while waiting.
    """

    template_fields: Sequence[str] = ("package", "language", "app_user_id", "metastudio_conn_id")
    ui_color = "#e3f1d4"
    operator_extra_links = (VoiceTrainingJobLink(),)
    job_kind = KIND_SHORT

    def __init__(
        self,
        *,
        package: str,
        language: str | None = None,
        fail_on_bad_recordings: bool = True,
        wait_timeout: float | None = DEFAULT_ASSESS_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        # a recording check makes no voice: no asset alias in its outlets
        super().__init__(wait_timeout=wait_timeout, asset_alias=None, **kwargs)
        self.package = package
        self.language = language
        self.fail_on_bad_recordings = bool(fail_on_bad_recordings)

    def execute(self, context: Context) -> Any:
        """Check the zip locally, create the check, upload, commit, then wait for the assessment."""
        from airflow_provider_voicetraining.packages import validate_recordings

        started_at = time.time()
        hook = self.hook
        package = validate_recordings(self.package)
        language = arguments.language(self.language)
        created = hook.create_short_job(language=language, app_user_id=self.app_user_id)
        job_id = created.job_id
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
        self.publish_console_url(context, job_id)
        self.log.info(
            "Created recording check %s; uploading %s (%d bytes)", job_id, package.path, package.size
        )
        hook.upload_training_data(created.upload_urls.training_data_uploading_url, package.path)
        hook.commit_short_job(job_id, app_user_id=self.app_user_id)
        return self._settle(context, job_id, started_at)

    def succeeded(self, context: Context, job: dict[str, Any]) -> Any:
        """Push and return the assessment; fail on recordings out of range if asked to."""
        from airflow_provider_voicetraining.errors import VoiceRecordingsRejectedError
        from airflow_provider_voicetraining.models import VoiceAssessment, VoiceTrainingJob

        self.push_job(context, job)
        assessment = VoiceAssessment.from_job(VoiceTrainingJob.from_dict(job))
        result = assessment.to_dict()
        context["ti"].xcom_push(key=XCOM_ASSESSMENT, value=result)
        if assessment.passed:
            self.log.info("%s", assessment.summary())
            return result
        if self.fail_on_bad_recordings:
            raise VoiceRecordingsRejectedError(assessment.summary(), result)
        self.log.warning("%s (fail_on_bad_recordings=False: returning the assessment)", assessment.summary())
        return result
