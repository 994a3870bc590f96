"""Operators: get a job's result into XCom, and create + upload + commit a job.

XCom contract of both operators (the sensor returns the job dict and pushes only
``console_url`` and, on failure, ``failure_details``):

================== ===========================================================================
key                value
================== ===========================================================================
``return_value``   the ``asset_id`` (str) on success; the failure-details dict when the job
                   failed and ``fail_on_job_failure=False``; for the create operator without
                   ``wait_for_completion``, the ``job_id``
``job``            the job as a JSON-safe dict (``VoiceTrainingJob.to_dict()``)
``failure_details`` ``{job_id, state, state_class, job_failed_code, job_failed_reason,
                   audit_errors[], admin_audit_message, console_url}`` when the job failed
``job_id``         the created job's id, pushed right after creation (before upload/waiting)
``console_url``    where a person can look at the job (also the task's extra link)
================== ===========================================================================
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_voicetraining import DEFAULT_CONN_ID
from airflow_provider_voicetraining.assets import VOICE_ALIAS, declare_voice_alias, emit_voice_event
from airflow_provider_voicetraining.lineage import VoiceLineageMixin
from airflow_provider_voicetraining.links.voice_training import VoiceTrainingJobLink
from airflow_provider_voicetraining.utils import compat
from airflow_provider_voicetraining.utils.job_waiting import JobWaitMixin
from airflow_provider_voicetraining.utils.wait_rules import XCOM_JOB_ID, Verdict
from airflow_provider_voicetraining.wire import checks as check
from airflow_provider_voicetraining.wire.errors import (
    VoiceTrainingError,
    VoiceTrainingJobNotFinishedError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining.wire.states import COMMITTABLE_STATES, normalize_failure_states

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_WAIT_TIMEOUT = 7 * 24 * 3600.0
ON_ABORT_CHOICES = ("leave", "delete")


class _ResultHandling(VoiceLineageMixin, JobWaitMixin, BaseOperator):
    """What both operators do once a job is terminal (or the wait ends)."""

    fail_on_job_failure: bool
    wait_timeout: float | None

    def __init__(
        self,
        *,
        metastudio_conn_id: str = DEFAULT_CONN_ID,
        app_user_id: str | None = None,
        deferrable: bool | None = None,
        poll_interval: float = 60.0,
        wait_timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        failure_states: Iterable[str] | None = None,
        fail_on_job_failure: bool = True,
        max_consecutive_errors: int = 5,
        asset_alias: str | None = VOICE_ALIAS,
        **kwargs: Any,
    ) -> None:
        # Its own __init__ matters: Airflow's operator metaclass wraps an __init__ only where a
        # class defines one, and a mixin-first class without it got BaseOperator's defaults
        # applied twice, which broke mapped instances (inlets/outlets None).
        super().__init__(**kwargs)
        self.metastudio_conn_id = metastudio_conn_id
        self.app_user_id = app_user_id
        self.poll_interval = check.positive_number(poll_interval, "poll_interval", maximum=86400, default=60)
        self.wait_timeout = (
            None
            if wait_timeout is None
            else check.positive_number(wait_timeout, "wait_timeout", maximum=90 * 86400, default=0)
        )
        self.failure_states = sorted(normalize_failure_states(failure_states))
        self.fail_on_job_failure = bool(fail_on_job_failure)
        self.max_consecutive_errors = check.bounded_int(
            max_consecutive_errors, "max_consecutive_errors", minimum=0, maximum=1000, default=5
        )
        self.deferrable = compat.default_deferrable() if deferrable is None else bool(deferrable)
        self.asset_alias = asset_alias
        declare_voice_alias(self, asset_alias)

    def _deadline(self, started_at: float) -> float | None:
        """Return the wall-clock end of the wait: ``wait_timeout`` capped by ``execution_timeout``.

        Airflow does not apply ``execution_timeout`` while a task is deferred, so the wait does.
        """
        limits = [self.wait_timeout] if self.wait_timeout is not None else []
        if self.execution_timeout is not None:
            limits.append(self.execution_timeout.total_seconds())
        return started_at + min(limits) if limits else None

    def _settle(self, context: Context, job_id: str, started_at: float) -> Any:
        """Poll once; finish if terminal, else wait (defer or inline)."""
        job, verdict = self.poll_once(job_id)
        self.new_state_log(job_id, started_at).observe(job.state)
        if verdict is Verdict.SUCCESS:
            return self.succeeded(context, job.to_dict())
        if verdict is Verdict.FAILED:
            return self.failed_job_found(context, job)
        if not self._waits:
            raise VoiceTrainingJobNotFinishedError(
                f"Job {job_id} is still {job.state}; set wait_for_completion=True (or use "
                "VoiceTrainingJobSensor) to wait for it"
            )
        return self.wait_for_job(context, job_id, self._deadline(started_at), started_at)

    @property
    def _waits(self) -> bool:
        return True

    def succeeded(self, context: Context, job: dict[str, Any]) -> Any:
        self.push_job(context, job)
        self.note_job(job)
        emit_voice_event(self, context, job)
        self.log.info("Job %s succeeded: asset_id %s", job.get("job_id"), job.get("asset_id"))
        return job["asset_id"]

    def job_failed(self, context: Context, details: dict[str, Any], message: str) -> Any:
        self.note_job(details)
        if self.fail_on_job_failure:
            return super().job_failed(context, details, message)
        self.publish_failure(context, details)
        self.log.warning("%s (fail_on_job_failure=False: returning the failure details)", message)
        return details

    def timed_out(self, context: Context, event: dict[str, Any]) -> Any:
        raise VoiceTrainingError(event["message"])


class VoiceTrainingJobResultOperator(_ResultHandling):
    """Get a job's outcome into XCom: the ``asset_id`` on success, the failure details otherwise.

    :param job_id: the job (templated).
    :param metastudio_conn_id: connection id (templated).
    :param app_user_id: ``X-App-UserId`` the job was created with (templated).
    :param wait_for_completion: wait while the job is in progress (default True); if False, an
        unfinished job fails the task with ``VoiceTrainingJobNotFinishedError``.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls while waiting.
    :param wait_timeout: give up waiting after this many seconds (default 7 days; also capped
        by ``execution_timeout``).
    :param failure_states: as for :class:`VoiceTrainingJobSensor`.
    :param fail_on_job_failure: if False, a failed job does not fail the task: the failure
        details are returned (and pushed as ``failure_details``) for a downstream branch.
    :param max_consecutive_errors: transient API errors tolerated in a row while waiting.
    :param asset_alias: on success the voice's ``metastudio://`` asset gets an event through
        this :class:`~airflow.sdk.AssetAlias` (added to ``outlets``; default
        ``metastudio_voices``; None: no event).
    """

    template_fields: Sequence[str] = ("job_id", "app_user_id", "metastudio_conn_id")
    ui_color = "#d6ecf3"
    operator_extra_links = (VoiceTrainingJobLink(),)

    def __init__(self, *, job_id: str, wait_for_completion: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.wait_for_completion = bool(wait_for_completion)

    @property
    def _waits(self) -> bool:
        return self.wait_for_completion

    def execute(self, context: Context) -> Any:
        """Poll once; return the result if the job is done, else wait for it."""
        started_at = time.time()
        job_id = self.checked_job_id(self.job_id)
        self.publish_console_url(context, job_id)
        return self._settle(context, job_id, started_at)


class CreateVoiceTrainingJobOperator(_ResultHandling):
    """Create a voice-training job, upload its training package, commit it, optionally wait.

    The package is checked locally first (exists, is a zip, holds what the edition needs), and
    every argument is validated, before the job is created: bad input leaves no remote job.
    ``job_id`` is pushed to XCom right after creation. If the upload or the commit fails, the
    new job is deleted (best effort) so nothing is left half-done, unless the commit is proven
    to have gone through.

    :param edition: ``basic`` (20 sentences), ``middle`` (100), ``advance`` (one long
        recording) or ``third_party``.
    :param voice_name: name of the voice (asset) to train (templated).
    :param training_package: local path of the training zip (templated, e.g. from an upstream
        task's XCom).
    :param sex: ``FEMALE`` or ``MALE`` (the service defaults to ``FEMALE``).
    :param language: ``CN`` or ``EN``.
    :param tag: the job's tag (``vocabulary.TAGS``: ``ECOMMERCE``, ``NEWS`` ...).
    :param description: shown in the asset library (templated).
    :param phone: contact phone number of the voice's owner.
    :param dhtms_job_id: an avatar (image modeling) job to associate.
    :param batch_name: batch to file the job under (templated).
    :param output_language: output language of the voice model.
    :param custom_text: audition text for the preview (templated).
    :param is_ondemand_resource: use pay-per-use resources.
    :param supported_service: services the voice is for (``VIDEO_2D``, ``LIVE_2D``, ``CHAT_2D``).
    :param app_user_id: ``X-App-UserId`` to create the job for (templated).
    :param commit_overrides: metadata overrides sent with the commit (``vocabulary.COMMIT_FIELDS``).
    :param metastudio_conn_id: connection id (templated).
    :param wait_for_completion: wait for the job to finish and return its ``asset_id``
        (default False: return the ``job_id`` right after the commit).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls while waiting.
    :param wait_timeout: give up waiting after this many seconds (default 7 days; also capped
        by ``execution_timeout``).
    :param failure_states: as for the sensor (``VoiceTrainingJobSensor``).
    :param fail_on_job_failure: if False, a failed job does not fail the task: the failure
        details are returned (and pushed as ``failure_details``).
    :param max_consecutive_errors: transient API errors tolerated in a row while waiting.
    :param on_abort: what happens to the remote job when this task gives up on it (killed,
        or the wait timed out): ``"leave"`` (default; training continues and can be collected
        later with the result operator) or ``"delete"``.
    :param asset_alias: as for the result operator (the event is emitted when the task waited
        for the voice: ``wait_for_completion=True``).
    """

    template_fields: Sequence[str] = (
        "edition",
        "voice_name",
        "training_package",
        "description",
        "app_user_id",
        "batch_name",
        "custom_text",
        "metastudio_conn_id",
    )
    ui_color = "#b7e0ef"
    operator_extra_links = (VoiceTrainingJobLink(),)

    def __init__(
        self,
        *,
        edition: str,
        voice_name: str,
        training_package: str,
        sex: str | None = None,
        language: str | None = None,
        tag: str | None = None,
        description: str | None = None,
        phone: str | None = None,
        dhtms_job_id: str | None = None,
        batch_name: str | None = None,
        output_language: str | None = None,
        custom_text: str | None = None,
        is_ondemand_resource: bool | None = None,
        supported_service: list[str] | None = None,
        commit_overrides: dict[str, Any] | None = None,
        wait_for_completion: bool = False,
        on_abort: str = "leave",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.edition = edition if "{{" in str(edition) else check.edition(edition)
        self.voice_name = voice_name
        self.training_package = training_package
        self.sex = sex
        self.language = language
        self.tag = tag
        self.description = description
        self.phone = phone
        self.dhtms_job_id = dhtms_job_id
        self.batch_name = batch_name
        self.output_language = output_language
        self.custom_text = custom_text
        self.is_ondemand_resource = is_ondemand_resource
        self.supported_service = supported_service
        self.commit_overrides = dict(commit_overrides or {})
        self.wait_for_completion = bool(wait_for_completion)
        if on_abort not in ON_ABORT_CHOICES:
            raise VoiceTrainingValidationError(
                "on_abort", f"{on_abort!r} is not supported", f"use {ON_ABORT_CHOICES}"
            )
        self.on_abort = on_abort
        self._remote_job_id: str | None = None

    def _create_kwargs(self) -> dict[str, Any]:
        from airflow_provider_voicetraining.wire.vocabulary import CREATE_FIELDS

        fields = {name: getattr(self, name) for name in CREATE_FIELDS if name != "create_type"}
        return {
            "voice_name": self.voice_name,
            "app_user_id": self.app_user_id,
            "create_type": "PACKAGE",
            **fields,
        }

    def execute(self, context: Context) -> Any:
        """Check everything, create, upload, commit; then return the job id or wait."""
        from airflow_provider_voicetraining.wire import endpoints as api
        from airflow_provider_voicetraining.wire.packages import validate_package

        started_at = time.time()
        hook = self.hook
        self.edition = check.edition(self.edition)
        # Everything is checked before the first request: the package, every create field,
        # the commit overrides and the connection itself.
        package = validate_package(self.training_package, self.edition)
        api.create_job(hook.settings, self.edition, **self._create_kwargs())
        api.commit_body(self.commit_overrides)

        created = hook.create_job(self.edition, **self._create_kwargs())
        job_id = self._remote_job_id = created.job_id
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
        self.publish_console_url(context, job_id)
        self.log.info(
            "Created %s job %s; uploading %s (%d bytes)", self.edition, job_id, package.path, package.size
        )
        try:
            hook.upload_training_data(
                api.presigned_url(created.upload_urls.training_data_uploading_url), package.path
            )
            hook.commit_job(job_id, app_user_id=self.app_user_id, **self.commit_overrides)
        except BaseException as exc:
            self._clean_up_unsubmitted(job_id, exc)
            raise
        self.log.info("Committed job %s", job_id)
        if not self.wait_for_completion:
            return job_id
        try:
            return self._settle(context, job_id, started_at)
        except compat.TaskDeferred:
            raise
        except compat.AirflowTaskTimeout:
            self._abort(job_id, "execution_timeout")
            raise

    def _clean_up_unsubmitted(self, job_id: str, exc: BaseException) -> None:
        """Upload or commit failed: delete the job unless it demonstrably got committed."""
        hook = self.hook
        try:
            state = hook.get_job(job_id, app_user_id=self.app_user_id).state
            if state not in COMMITTABLE_STATES:
                self.log.warning("Job %s is %s despite %s: it was committed; keeping it", job_id, state, exc)
                return
            hook.delete_job(job_id, app_user_id=self.app_user_id, missing_ok=True)
            self.log.warning("Deleted job %s because its upload or commit failed: %s", job_id, exc)
        except Exception as cleanup_error:
            self.log.error(
                "Job %s was created but not submitted (%s), and deleting it failed too (%s); delete it "
                "in the console",
                job_id,
                exc,
                cleanup_error,
            )

    def _abort(self, job_id: str, why: str) -> None:
        if self.on_abort != "delete":
            self.log.warning("Leaving job %s running after %s (on_abort='leave')", job_id, why)
            return
        try:
            self.hook.delete_job(job_id, app_user_id=self.app_user_id, missing_ok=True)
            self.log.warning("Deleted job %s after %s (on_abort='delete')", job_id, why)
        except Exception as exc:
            self.log.error("Could not delete job %s after %s: %s", job_id, why, exc)

    @property
    def delete_on_kill(self) -> bool:
        """The trigger deletes the job if the deferred task is killed (``on_abort="delete"``)."""
        return self.on_abort == "delete"

    def timed_out(self, context: Context, event: dict[str, Any]) -> Any:
        """Apply ``on_abort`` to the job, then fail the task."""
        self._abort(event["job_id"], "the wait timed out")
        return super().timed_out(context, event)

    def on_kill(self) -> None:
        """Apply ``on_abort`` to the job the task created (the task was killed)."""
        if self._remote_job_id is not None:
            self._abort(self._remote_job_id, "the task was killed")
