"""Operators: get a job's result into XCom, and create + upload + commit (+ wait for) a job.

Both return the ``asset_id`` on success (the create operator without waiting: the ``job_id``)
and push ``job``, ``job_id``, ``console_url`` and, when the job failed, ``failure_details``: the
XCom contract is the table of docs/xcom-assets-lineage.md ("Job states, XCom and payload shapes").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_voicetraining import DEFAULT_CONN_ID
from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._tasks import arguments
from airflow_provider_voicetraining._tasks.waiting import JobWaitMixin, render_job_id
from airflow_provider_voicetraining._wait_rules import XCOM_JOB_ID, Verdict
from airflow_provider_voicetraining.assets import VOICE_ALIAS, declare_voice_alias, emit_voice_event
from airflow_provider_voicetraining.errors import (
    VoiceTrainingJobNotFinishedError,
    VoiceTrainingValidationError,
)
from airflow_provider_voicetraining.lineage import VoiceLineageMixin
from airflow_provider_voicetraining.links.voice_training import VoiceTrainingJobLink
from airflow_provider_voicetraining.states import JobState

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["CreateVoiceTrainingJobOperator", "VoiceTrainingJobResultOperator"]

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
        shared_polling: bool = True,
        **kwargs: Any,
    ) -> None:
        # Its own __init__ matters: Airflow's operator metaclass wraps an __init__ only where a
        # class defines one, and a mixin-first class without it got BaseOperator's defaults
        # applied twice, which broke mapped instances (inlets/outlets None).
        super().__init__(**kwargs)
        self.metastudio_conn_id = metastudio_conn_id
        self.app_user_id = app_user_id
        self.poll_interval = arguments.seconds(poll_interval, "poll_interval", maximum=86400, default=60)
        self.wait_timeout = (
            None
            if wait_timeout is None
            else arguments.seconds(wait_timeout, "wait_timeout", maximum=90 * 86400, default=0)
        )
        self.failure_states = arguments.failure_states(failure_states)
        self.fail_on_job_failure = bool(fail_on_job_failure)
        self.max_consecutive_errors = arguments.max_consecutive_errors(max_consecutive_errors)
        self.deferrable = arguments.deferrable(deferrable)
        self.asset_alias = asset_alias
        self.shared_polling = bool(shared_polling)
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
        deadline = self._deadline(started_at)
        job, verdict = self.poll_once(job_id, deadline)
        self.new_state_log(job_id, started_at).observe(job.state)
        if verdict is Verdict.SUCCESS:
            return self.succeeded(context, job.to_dict())
        if verdict is Verdict.FAILED:
            return self.failed_job_found(context, job, deadline)
        if not self._waits:
            raise VoiceTrainingJobNotFinishedError(
                f"Job {job_id} is still {job.state}; set wait_for_completion=True (or use "
                "VoiceTrainingJobSensor) to wait for it"
            )
        return self.wait_for_job(context, job_id, deadline, started_at)

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
        """Fail the task without retry: a retry would only wait on the same job again."""
        from airflow_provider_voicetraining.errors import VoiceTrainingWaitTimeoutError

        raise VoiceTrainingWaitTimeoutError(event["message"], event.get("job_id"))

    def waited_job_id(self, context: Context) -> str | None:
        """Return the job this task waits for: the ``job_id`` XCom it pushed after creating it."""
        ti = context["ti"]
        value = ti.xcom_pull(task_ids=ti.task_id, key=XCOM_JOB_ID, map_indexes=ti.map_index)
        return value if isinstance(value, str) else None

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Airflow's deferral backstop (the triggerer missed the deadline) is a wait timeout too."""
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except compat.TaskDeferralTimeout as exc:
            job_id = self.waited_job_id(context)
            message = f"Job {job_id} did not finish in time: Airflow's deferral timeout fired ({exc})"
            return self.timed_out(context, {"job_id": job_id, "message": message})


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
    :param shared_polling: as for :class:`VoiceTrainingJobSensor` (deferred waits only).
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

    def waited_job_id(self, context: Context) -> str | None:
        """Return the rendered ``job_id``."""
        return render_job_id(self.job_id)


class CreateVoiceTrainingJobOperator(_ResultHandling):
    """Create a voice-training job, upload its training package, commit it, optionally wait.

    Everything is checked before the job is created (the package, every field, the connection,
    and with ``check_quota`` the edition's quota): bad input leaves no remote job. A task
    instance trains at most one voice: a retry or rerun reconnects to its earlier try's job
    (docs/operators/create.md, "Retries and reruns"). ``job_id`` is pushed to XCom right after creation.

    :param edition: ``basic`` (20 sentences), ``middle`` (100), ``advance`` (one long
        recording) or ``third_party``.
    :param voice_name: name of the voice (asset) to train (templated).
    :param training_package: local path of the training zip (templated).
    :param sex: ``FEMALE`` or ``MALE``.
    :param language: ``CN`` or ``EN``.
    :param tag: the job's tag (``vocabulary.TAGS``).
    :param description: shown in the asset library (templated).
    :param phone: contact phone number of the voice's owner.
    :param dhtms_job_id: an avatar (image modeling) job to associate.
    :param batch_name: batch to file the job under (templated); default: the task instance's
        identity, by which retries find the job (set it on Airflow < 3.3 and a retry that
        cannot tell its job from a lookalike refuses to create another).
    :param output_language: output language of the voice model.
    :param custom_text: audition text for the preview (templated).
    :param is_ondemand_resource: use pay-per-use resources.
    :param supported_service: services the voice is for (``VIDEO_2D``, ``LIVE_2D``, ``CHAT_2D``).
    :param app_user_id: ``X-App-UserId`` to create the job for (templated).
    :param commit_overrides: body fields sent with the commit (``vocabulary.COMMIT_FIELDS``;
        its ``app_user_id`` files the job under that end user, and the task follows it).
    :param metastudio_conn_id: connection id (templated).
    :param wait_for_completion: wait and return the ``asset_id`` (default False: return the
        ``job_id`` after the commit).
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between polls while waiting (and while waiting for quota).
    :param wait_timeout: give up waiting after this many seconds (default 7 days, capped by
        ``execution_timeout``); a timeout fails the task without retry.
    :param failure_states: as for the sensor.
    :param fail_on_job_failure: if False, a failed job returns its failure details instead.
    :param max_consecutive_errors: transient API errors tolerated in a row while waiting.
    :param on_abort: the remote job when the task gives up on it for good: ``"leave"`` (default)
        or ``"delete"``; while a retry will follow, it is kept for that retry.
    :param check_quota: check the edition's quota before creating (default True).
    :param quota_wait_timeout: seconds to wait for a training to become available instead of
        failing at once (default None).
    :param asset_alias: as for the result operator (the event needs ``wait_for_completion``).
    :param shared_polling: as for the sensor (deferred waits only).
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
        check_quota: bool = True,
        quota_wait_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.edition = edition if "{{" in str(edition) else arguments.edition(edition)
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
        self.check_quota = bool(check_quota)
        self.quota_wait_timeout = (
            None
            if quota_wait_timeout is None
            else arguments.seconds(quota_wait_timeout, "quota_wait_timeout", maximum=7 * 86400, default=0)
        )
        self._remote_job_id: str | None = None
        self._job_owner: str | None = None
        self._retry_follows = False
        self._reconnectable = False
        self._airflow_timeout = False
        self._released = False

    def _create_kwargs(self, batch_name: str | None = None) -> dict[str, Any]:
        from airflow_provider_voicetraining.vocabulary import CREATE_FIELDS

        fields = {name: getattr(self, name) for name in CREATE_FIELDS if name != "create_type"}
        if batch_name is not None:
            fields["batch_name"] = batch_name
        return {
            "voice_name": self.voice_name,
            "app_user_id": self.app_user_id,
            "create_type": "PACKAGE",
            **fields,
        }

    def _spec(self, attempt: Any) -> Any:
        """Describe what this try would create (an earlier try's job must match it)."""
        from airflow_provider_voicetraining._tasks.reattach import JobSpec
        from airflow_provider_voicetraining.vocabulary import EDITIONS

        moved = self.commit_overrides.get("app_user_id")
        renamed = self.commit_overrides.get("voice_name")
        return JobSpec(
            job_type=EDITIONS[self.edition].job_type,
            voice_names=tuple(dict.fromkeys(v for v in (self.voice_name, renamed) if v)),
            owners=tuple(dict.fromkeys((self.app_user_id, *([moved] if moved else [])))),
            batch_name=self.batch_name or attempt.identity,
            tagged=not self.batch_name,
        )

    def execute(self, context: Context) -> Any:
        """Check everything; reconnect to an earlier try's job or create one; return or wait.

        A new job is created, uploaded and committed; an earlier try's job is waited for,
        returned, or finished (upload and commit), as ``_tasks.reattach`` decides.
        """
        from airflow_provider_voicetraining._tasks import reattach
        from airflow_provider_voicetraining.packages import validate_package

        started_at = time.time()
        hook = self.hook
        self.edition = arguments.edition(self.edition)
        # Everything is checked before the first request: the package, every create field,
        # the commit overrides and the connection itself.
        package = validate_package(self.training_package, self.edition)
        hook.check_create(self.edition, **self._create_kwargs(), commit_overrides=self.commit_overrides)
        attempt = reattach.TaskAttempt.from_context(context)
        spec = self._spec(attempt)
        self._retry_follows = attempt.retry_follows
        self._reconnectable = attempt.store is not None or spec.tagged

        earlier = reattach.find_earlier_job(hook, attempt, spec, self.log)
        if earlier is not None and earlier.reuse is not reattach.Reuse.REPLACE:
            job_id = earlier.job.job_id
            self._track(context, job_id, earlier.owner)
            if earlier.reuse is reattach.Reuse.FINISH:
                if earlier.job.state == JobState.CREATING.value:
                    self._require_quota()
                self._upload_and_commit(job_id, None, package.path)
            return self._after_commit(context, job_id, started_at)

        self._require_quota()
        created = hook.create_job(self.edition, **self._create_kwargs(spec.batch_name))
        job_id = created.job_id
        reattach.remember(attempt, job_id, self.app_user_id, self.log)
        self._track(context, job_id, self.app_user_id)
        self.log.info(
            "Created %s job %s (batch %s); uploading %s (%d bytes)",
            self.edition,
            job_id,
            spec.batch_name,
            package.path,
            package.size,
        )
        self._upload_and_commit(job_id, created.upload_urls.training_data_uploading_url, package.path)
        return self._after_commit(context, job_id, started_at)

    def _require_quota(self) -> None:
        from airflow_provider_voicetraining._tasks.quota import require_quota
        from airflow_provider_voicetraining.vocabulary import EDITIONS

        if self.check_quota:
            require_quota(
                self.hook,
                EDITIONS[self.edition],
                on_demand=bool(self.is_ondemand_resource),
                wait_timeout=self.quota_wait_timeout,
                poll_interval=self.poll_interval,
                log=self.log,
            )

    def _track(self, context: Context, job_id: str, owner: str | None) -> None:
        """From now on this try answers for ``job_id``: XCom, link, and where to find it."""
        self._remote_job_id = job_id
        self._job_owner = owner
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
        self.publish_console_url(context, job_id)

    def _upload_and_commit(self, job_id: str, url: str | None, path: str) -> None:
        hook = self.hook
        try:
            if url is None:
                url = hook.get_upload_urls(job_id, app_user_id=self.job_owner).training_data_uploading_url
            hook.upload_training_data(url, path)
            hook.commit_job(job_id, self.commit_overrides, app_user_id=self.job_owner)
        except BaseException as exc:
            self._give_up(job_id, f"its upload or commit failed ({type(exc).__name__}: {exc})")
            raise
        moved = self.commit_overrides.get("app_user_id")
        if moved:
            self._job_owner = moved
        self.log.info("Committed job %s", job_id)

    def _after_commit(self, context: Context, job_id: str, started_at: float) -> Any:
        from airflow_provider_voicetraining.errors import (
            VoiceTrainingJobFailedError,
            VoiceTrainingWaitTimeoutError,
        )

        if not self.wait_for_completion:
            return job_id
        try:
            return self._settle(context, job_id, started_at)
        except compat.TaskDeferred:
            raise
        except compat.AirflowTaskTimeout:
            self._airflow_timeout = True  # Airflow calls on_kill next
            raise
        except (VoiceTrainingJobFailedError, VoiceTrainingWaitTimeoutError):
            raise
        except Exception as exc:
            self._give_up(job_id, f"the wait failed ({type(exc).__name__})")
            raise

    # -- giving up on the job ------------------------------------------------------------------
    def _give_up(self, job_id: str, why: str) -> None:
        """End this try without the job: keep it for the retry that reconnects, else release it."""
        if self._retry_follows and self._reconnectable:
            self.log.warning("Keeping job %s after %s: the retry reconnects to it", job_id, why)
            self._released = True
            return
        self._release(job_id, why)

    def _release(self, job_id: str, why: str) -> None:
        """Let go of the job for good.

        An uncommitted job is deleted (nothing is left half-done); a committed one is left
        training or deleted, as ``on_abort`` says.
        """
        if self._released:
            return
        self._released = True
        hook = self.hook
        try:
            state = hook.get_job(job_id, app_user_id=self.job_owner).state
        except Exception as exc:
            state = None
            self.log.warning("Could not read job %s before releasing it: %s", job_id, exc)
        if state != JobState.CREATING.value and self.on_abort != "delete":
            self.log.warning("Leaving job %s (%s) after %s (on_abort='leave')", job_id, state or "?", why)
            return
        try:
            hook.delete_job(job_id, app_user_id=self.job_owner, missing_ok=True)
            reason = "it was never committed" if state == JobState.CREATING.value else "on_abort='delete'"
            self.log.warning("Deleted job %s after %s (%s)", job_id, why, reason)
        except Exception as exc:
            self.log.error(
                "Could not delete job %s after %s (%s); delete it in the console", job_id, why, exc
            )

    @property
    def delete_on_kill(self) -> bool:
        """The trigger deletes the job if the deferred task is killed (``on_abort="delete"``)."""
        return self.on_abort == "delete"

    def timed_out(self, context: Context, event: dict[str, Any]) -> Any:
        """Apply ``on_abort`` to the job (a timeout is final), then fail the task."""
        if event.get("job_id"):
            self._release(event["job_id"], "the wait timed out")
        return super().timed_out(context, event)

    def wait_errored(self, context: Context, event: dict[str, Any]) -> Any:
        """Keep the job for the retry after an ``error`` event, or release it on the last try."""
        self._retry_follows = compat.retry_follows(context)
        self._reconnectable = compat.task_state_store(context) is not None or not self.batch_name
        self._give_up(event["job_id"], "the wait stopped on errors")
        return super().wait_errored(context, event)

    def on_kill(self) -> None:
        """Release the job of a killed task.

        Unless Airflow's ``execution_timeout`` killed it and a retry follows: that retry
        reconnects to the job.
        """
        job_id = self._remote_job_id
        if job_id is None or self._released:
            return
        if self._airflow_timeout:
            self._give_up(job_id, "execution_timeout")
        else:
            self._release(job_id, "the task was killed")
