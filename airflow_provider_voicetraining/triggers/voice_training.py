"""``VoiceTrainingJobTrigger``: waits for a job in the triggerer, asynchronously.

* One ``httpx`` client for the trigger's life (shared per event loop), the connection fetched
  asynchronously, no blocking call on the loop, the same request core as the sync hook.
* Serializes primitives and the conn id only: never a credential, never a client object.
* ``end_time`` is a wall-clock epoch (a monotonic clock means nothing in another process:
  apache/airflow#67616). At the deadline it polls once more, then reports ``timeout``.
* Yields exactly one event (``success``, ``failed``, ``timeout``, ``error``; see
  :func:`airflow_provider_voicetraining._wait_rules.make_event`) and sleeps on every other path.
* Rebuilt from :meth:`serialize` (triggerer restart or failover) it simply resumes polling.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_voicetraining import DEFAULT_CONN_ID
from airflow_provider_voicetraining._wait_rules import (
    EVENT_ERROR,
    EVENT_FAILED,
    EVENT_SUCCESS,
    EVENT_TIMEOUT,
    JOB_KINDS,
    KIND_VOICE,
    ErrorBudget,
    StateLog,
    Verdict,
    decide,
    look_deadline,
    make_event,
)
from airflow_provider_voicetraining._wire.errors import VoiceTrainingError
from airflow_provider_voicetraining._wire.states import normalize_failure_states

if TYPE_CHECKING:
    from airflow_provider_voicetraining._wire.models import VoiceTrainingJob
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.triggers._job_sources import DirectSource

__all__ = ["VoiceTrainingJobTrigger"]

CLASSPATH = "airflow_provider_voicetraining.triggers.voice_training.VoiceTrainingJobTrigger"


class VoiceTrainingJobEvent(TriggerEvent):
    """The trigger's event (a ``TriggerEvent`` with a short ``repr``).

    The triggerer's "Trigger fired event" log line shows the status, the job and the message,
    not the whole job dict the payload carries.
    """

    def __repr__(self) -> str:
        payload = self.payload if isinstance(self.payload, dict) else {}
        return f"TriggerEvent<{payload.get('status')} {payload.get('job_id')}: {payload.get('message')}>"


class VoiceTrainingJobTrigger(BaseTrigger):
    """Poll ``GET .../user/jobs/{job_id}`` until the job is terminal or ``end_time`` passes.

    :param job_id: the job to wait for.
    :param metastudio_conn_id: connection id (the only thing the triggerer needs to authenticate).
    :param poll_interval: seconds between polls.
    :param end_time: wall-clock epoch seconds after which a ``timeout`` event is sent (None: no limit).
    :param failure_states: states that end the wait as ``failed`` (default: failure and
        needs-action states; see :func:`~airflow_provider_voicetraining.states.normalize_failure_states`).
    :param app_user_id: ``X-App-UserId`` of the job, if it was created for an end user.
    :param max_consecutive_errors: transient API errors tolerated in a row before an ``error`` event.
    :param started_at: epoch when waiting began (for elapsed times in logs).
    :param delete_on_kill: delete the job if the deferred task is killed (the create operator's
        ``on_abort="delete"``; Airflow 3.1+ calls :meth:`on_kill`).
    :param shared_polling: share one poller with the other waits of this triggerer on the same
        connection and app user (list calls; see :mod:`.shared_polling`), instead of one
        show-job per poll. The events are the same either way. (Short jobs are always polled
        one by one: the list call knows only voice jobs.)
    :param kind: ``"voice"`` (a training job, the default) or ``"short"`` (a recording check,
        polled at ``GET .../user/short-jobs/{job_id}``; it has no asset id and cannot be deleted).
    :param seen_waiting_at: epoch at which the deferring task's own poll saw the job still
        waiting (its request's send time). With shared polling the first look is then a list
        reaching back to it, not a show: after a triggerer failover, the rebuilt triggers cost
        a few list pages instead of one show each at the same moment.
    """

    def __init__(
        self,
        job_id: str,
        metastudio_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 60.0,
        end_time: float | None = None,
        failure_states: Iterable[str] | None = None,
        app_user_id: str | None = None,
        max_consecutive_errors: int = 5,
        started_at: float | None = None,
        delete_on_kill: bool = False,
        shared_polling: bool = True,
        kind: str = KIND_VOICE,
        seen_waiting_at: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if kind not in JOB_KINDS:
            raise ValueError(f"kind must be one of {JOB_KINDS}, not {kind!r}")
        self.kind = kind
        self.job_id = job_id
        self.metastudio_conn_id = metastudio_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)
        self.failure_states = sorted(normalize_failure_states(failure_states))
        self.app_user_id = app_user_id
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.started_at = time.time() if started_at is None else float(started_at)
        self.delete_on_kill = bool(delete_on_kill) and kind == KIND_VOICE
        self.shared_polling = bool(shared_polling)
        self.seen_waiting_at = None if seen_waiting_at is None else float(seen_waiting_at)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the classpath and primitive kwargs (never a credential or a client)."""
        return (
            CLASSPATH,
            {
                "job_id": self.job_id,
                "metastudio_conn_id": self.metastudio_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "failure_states": list(self.failure_states),
                "app_user_id": self.app_user_id,
                "max_consecutive_errors": self.max_consecutive_errors,
                "started_at": self.started_at,
                "delete_on_kill": self.delete_on_kill,
                "shared_polling": self.shared_polling,
                "kind": self.kind,
                "seen_waiting_at": self.seen_waiting_at,
            },
        )

    def _until_deadline(self) -> float | None:
        """Seconds left until ``end_time`` (None: no deadline); the final poll is due then."""
        return None if self.end_time is None else max(0.0, self.end_time - time.time())

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield exactly one event: :meth:`wait` returns it; a crash becomes an ``error`` event."""
        try:
            event = await self.wait()
        except Exception as exc:  # a bug or an unexpected library error: report it, once
            self.log.exception("Trigger for job %s crashed", self.job_id)
            event = make_event(
                EVENT_ERROR,
                self.job_id,
                message=f"Trigger for job {self.job_id} crashed: {type(exc).__name__}: {exc}",
            )
        yield VoiceTrainingJobEvent(payload=event)

    async def wait(self) -> dict[str, Any]:
        """Poll until there is something to report; return the event payload."""
        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
        from airflow_provider_voicetraining.triggers._job_sources import open_source

        async with VoiceTrainingHook(self.metastudio_conn_id, app_user_id=self.app_user_id) as hook:
            # A look never outlives end_time by more than one attempt's deadline.
            attempt = (await hook.aget_settings()).timeout
            source = await open_source(
                hook,
                self.job_id,
                self.app_user_id,
                self.poll_interval,
                self.shared_polling,
                self.kind,
                self.seen_waiting_at,
            )
            try:
                return await self._wait_with(source, hook, attempt)
            finally:
                await source.close()

    async def _wait_with(
        self, source: DirectSource, hook: VoiceTrainingHook, attempt: float
    ) -> dict[str, Any]:
        failure_states = frozenset(self.failure_states)
        budget = ErrorBudget(self.max_consecutive_errors)
        states = StateLog(self.log, self.job_id, self.started_at)
        last: VoiceTrainingJob | None = None
        first = True
        while True:
            await source.wait(0.0 if first else self.poll_interval, self._until_deadline())
            first = False
            deadline_passed = self.end_time is not None and time.time() >= self.end_time
            deadline = look_deadline(self.end_time, attempt)
            try:
                job = await source.look(deadline, final=deadline_passed)
                if job is None:  # unchanged since the task saw it waiting (never the final look)
                    continue
                verdict = decide(job, failure_states, self.kind)
            except VoiceTrainingError as exc:
                if not budget.record(exc):
                    reason = (
                        f"{budget.consecutive} transient errors in a row"
                        if budget.consecutive
                        else "a permanent error"
                    )
                    return make_event(
                        EVENT_ERROR,
                        self.job_id,
                        message=f"Stopped waiting for job {self.job_id} after {reason}: {exc}",
                        job=None if last is None else last.to_dict(),
                        states=states,
                    )
                self.log.warning(
                    "Polling job %s failed (%d/%d transient errors tolerated): %s",
                    self.job_id,
                    budget.consecutive,
                    budget.limit,
                    exc,
                )
                if deadline_passed or (self.end_time is not None and time.time() >= self.end_time):
                    return self._timeout_event(last, states)
                continue
            budget.reset()
            last = job
            states.observe(job.state)
            if verdict is Verdict.SUCCESS:
                return make_event(
                    EVENT_SUCCESS,
                    self.job_id,
                    message=f"Job {self.job_id} succeeded: asset_id {job.asset_id}",
                    job=job.to_dict(),
                    states=states,
                )
            if verdict is Verdict.FAILED:
                details = await hook.aget_failure_details(job, deadline=deadline)
                return make_event(
                    EVENT_FAILED,
                    self.job_id,
                    message=details.summary(),
                    job=job.to_dict(),
                    failure=details.to_dict(),
                    states=states,
                )
            if deadline_passed:
                return self._timeout_event(job, states)

    async def on_kill(self) -> None:
        """Delete the job when the user stopped the deferred task, if the task asked for it."""
        if not self.delete_on_kill:
            return
        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

        async with VoiceTrainingHook(self.metastudio_conn_id, app_user_id=self.app_user_id) as hook:
            await hook.adelete_job(self.job_id, missing_ok=True)
        self.log.warning("Deleted job %s because its deferred task was killed", self.job_id)

    def _timeout_event(self, last: VoiceTrainingJob | None, states: StateLog) -> dict[str, Any]:
        """Build the ``timeout`` event with the last state any poll saw (not only the last poll)."""
        waited = time.time() - self.started_at
        return make_event(
            EVENT_TIMEOUT,
            self.job_id,
            message=(
                f"Job {self.job_id} did not finish before the deadline "
                f"(waited {waited:.0f}s; last state seen: {last.state if last else 'none'})"
            ),
            job=None if last is None else last.to_dict(),
            states=states,
        )
