"""``JobWaitMixin``: how a task waits for a job, shared by the sensor and the operators.

Deferrable, one poll in the worker then :meth:`~JobWaitMixin.defer` to the trigger; not
deferrable, the trigger's own wait runs inline (``asyncio.run(trigger.wait())``): one wait loop
either way. The outcome always arrives as a trigger event, handled by the one
:meth:`~JobWaitMixin.execute_complete`, which calls the task's ``succeeded``, ``job_failed`` or
``timed_out``. The hook and the trigger are imported on first use, not when a DAG file is parsed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._wait_rules import (
    EVENT_FAILED,
    EVENT_SUCCESS,
    EVENT_TIMEOUT,
    KIND_SHORT,
    KIND_VOICE,
    XCOM_CONSOLE_URL,
    XCOM_DEFERRED_IN_TRY,
    XCOM_FAILURE,
    XCOM_JOB,
    ErrorBudget,
    StateLog,
    Verdict,
    check_event,
    decide,
    describe_history,
    look_deadline,
)
from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining.errors import VoiceTrainingError, VoiceTrainingJobFailedError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_voicetraining._wire.models import VoiceTrainingJob
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger

#: Extra time granted to ``defer(timeout=...)`` beyond the trigger's own deadline: the trigger
#: reports the timeout itself (after a final poll); Airflow's deferral timeout is only the
#: backstop for a triggerer that is down, and it skips ``execute_complete``.
DEFER_GRACE_SECONDS = 300.0


class JobWaitMixin:
    """Needs ``metastudio_conn_id``, ``app_user_id``, ``poll_interval``, ``failure_states``,
    ``max_consecutive_errors``, ``deferrable`` and ``log`` on the task.

    ``job_kind`` says what is waited for (a voice job, or a short job: the recording check);
    ``job_owner`` is the ``X-App-UserId`` the job is visible under (``app_user_id`` unless a
    commit moved the job to another end user).
    """

    job_kind: str = KIND_VOICE
    #: whether the trigger shares one list-based poller with the triggerer's other waits
    shared_polling: bool = True

    metastudio_conn_id: str
    app_user_id: str | None
    poll_interval: float
    failure_states: list[str]
    max_consecutive_errors: int
    deferrable: bool
    log: Any

    @cached_property
    def hook(self) -> VoiceTrainingHook:
        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

        return VoiceTrainingHook(self.metastudio_conn_id, app_user_id=self.app_user_id)

    def checked_job_id(self, value: Any) -> str:
        """The rendered ``job_id``, and the hook's arguments, checked before any request."""
        job_id = render_job_id(value)
        _ = self.hook  # validates app_user_id
        return job_id

    @property
    def job_owner(self) -> str | None:
        """The ``X-App-UserId`` the job is visible under."""
        return getattr(self, "_job_owner", None) or self.app_user_id

    # -- polling -----------------------------------------------------------------------------
    def poll_once(self, job_id: str, deadline: float | None = None) -> tuple[VoiceTrainingJob, Verdict]:
        """One poll in the worker, ending by ``deadline`` (the task's wait limit) at the latest.

        A poll that finds the job still waiting is remembered (its send time) for the trigger:
        see :attr:`.VoiceTrainingJobTrigger.seen_waiting_at`.
        """
        fetch = self.hook.get_short_job if self.job_kind == KIND_SHORT else self.hook.get_job
        asked = time.time()
        # past the deadline (a slow create or upload) the look is the final one: a timeout
        job = fetch(
            job_id, app_user_id=self.job_owner, deadline=look_deadline(deadline, self.hook.settings.timeout)
        )
        verdict = decide(job, frozenset(self.failure_states), self.job_kind)
        self._seen_waiting = (job_id, asked) if verdict is Verdict.WAIT else None
        return job, verdict

    def seen_waiting_at(self, job_id: str) -> float | None:
        """When this task's last poll saw ``job_id`` still waiting (None: it did not)."""
        seen = getattr(self, "_seen_waiting", None)
        return seen[1] if seen is not None and seen[0] == job_id else None

    def new_budget(self) -> ErrorBudget:
        return ErrorBudget(self.max_consecutive_errors)

    def new_state_log(self, job_id: str, started_at: float | None = None) -> StateLog:
        return StateLog(self.log, job_id, started_at)

    # -- outcomes ------------------------------------------------------------------------------
    def publish_console_url(self, context: Context, job_id: str) -> None:
        context["ti"].xcom_push(key=XCOM_CONSOLE_URL, value=self.hook.console_url(job_id))

    def publish_failure(self, context: Context, details: dict[str, Any]) -> None:
        context["ti"].xcom_push(key=XCOM_FAILURE, value=details)

    def push_job(self, context: Context, job: dict[str, Any] | None) -> None:
        if job is not None:
            context["ti"].xcom_push(key=XCOM_JOB, value=job)

    def failed_job_found(self, context: Context, job: VoiceTrainingJob, deadline: float | None = None) -> Any:
        """A poll in the worker found the job failed: push it, fetch the details, fail."""
        self.push_job(context, job.to_dict())
        details = self.hook.get_failure_details(job, app_user_id=self.job_owner, deadline=deadline)
        return self.job_failed(context, details.to_dict(), details.summary())

    # -- what the task makes of an outcome (the sensor and the operators override these) --------
    def succeeded(self, context: Context, job: dict[str, Any]) -> Any:
        """The job succeeded: return the task's result."""
        raise NotImplementedError

    def job_failed(self, context: Context, details: dict[str, Any], message: str) -> Any:
        """Push ``failure_details`` and raise (the operators may return the details instead)."""
        self.publish_failure(context, details)
        raise VoiceTrainingJobFailedError(message, details)

    def timed_out(self, context: Context, event: dict[str, Any]) -> Any:
        """The wait reached its deadline."""
        raise NotImplementedError

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Handle the trigger's event (after deferral, or from the inline wait).

        A retry that Airflow resumed with an earlier try's event (3.0.x) starts afresh instead
        (:func:`.compat.stale_resume`).
        """
        if compat.stale_resume(context, XCOM_DEFERRED_IN_TRY):
            self.log.warning(
                "Airflow resumed try %s with an earlier try's trigger event; starting afresh",
                context["ti"].try_number,
            )
            return compat.rerun_execute(self, context)
        event = check_event(event)
        # trigger logs are not always shown once the task resumes: the task log keeps the story
        summary = describe_history(event["job_id"], event.get("history"))
        if summary:
            self.log.info("%s", summary)
        status = event["status"]
        if status == EVENT_SUCCESS:
            return self.succeeded(context, event["job"])
        if status == EVENT_FAILED:
            self.push_job(context, event.get("job"))
            return self.job_failed(context, event["failure"], event["message"])
        if status == EVENT_TIMEOUT:
            return self.timed_out(context, event)
        return self.wait_errored(context, event)

    def wait_errored(self, context: Context, event: dict[str, Any]) -> Any:
        """The wait stopped on errors (an ``error`` event): fail the task, retries apply."""
        raise VoiceTrainingError(event["message"])

    # -- waiting -------------------------------------------------------------------------------
    @property
    def delete_on_kill(self) -> bool:
        """Whether the trigger deletes the job when the deferred task is killed (Airflow 3.1+)."""
        return False

    def make_trigger(self, job_id: str, end_time: float | None, started_at: float) -> VoiceTrainingJobTrigger:
        from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger

        return VoiceTrainingJobTrigger(
            job_id=job_id,
            metastudio_conn_id=self.metastudio_conn_id,
            poll_interval=self.poll_interval,
            end_time=end_time,
            failure_states=self.failure_states,
            app_user_id=self.job_owner,
            max_consecutive_errors=self.max_consecutive_errors,
            started_at=started_at,
            delete_on_kill=self.delete_on_kill,
            kind=self.job_kind,
            shared_polling=self.shared_polling,
            seen_waiting_at=self.seen_waiting_at(job_id),
        )

    def wait_for_job(self, context: Context, job_id: str, end_time: float | None, started_at: float) -> Any:
        """Defer (deferrable) or run the trigger's loop inline; then :meth:`execute_complete`."""
        trigger = self.make_trigger(job_id, end_time, started_at)
        if self.deferrable:
            backstop = None
            if end_time is not None:
                backstop = timedelta(seconds=max(0.0, end_time - time.time()) + DEFER_GRACE_SECONDS)
            compat.record_deferral(context, XCOM_DEFERRED_IN_TRY)
            self.defer(trigger=trigger, method_name="execute_complete", timeout=backstop)  # type: ignore[attr-defined]
        event = asyncio.run(trigger.wait())
        return self.execute_complete(context, event)


def render_job_id(value: Any) -> str:
    """``job_id`` after template rendering, checked before any request (spaces around it are
    dropped; a line break or another control character is refused)."""
    return check.job_id(value.strip(" ") if isinstance(value, str) else value)
