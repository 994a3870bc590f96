"""Where a waiting trigger learns its job's state: its own polls, or the shared poller.

The trigger's loop (deadline, error budget, verdicts, events) is the same for both; only the
source differs, so the events are the same too. A source has two steps per round:
:meth:`wait` (the pause between polls) and :meth:`look` (the job now, the error that ended
the look, or None: no news of a job known to be waiting). A final look at the deadline is
always a direct show.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from airflow_provider_voicetraining._wait_rules import KIND_SHORT, KIND_VOICE
from airflow_provider_voicetraining._wire.errors import VoiceTrainingError
from airflow_provider_voicetraining._wire.time_limits import within
from airflow_provider_voicetraining.triggers._shared_polling import (
    Observation,
    SharedPoller,
    Subscription,
    poller_for,
)

if TYPE_CHECKING:
    from airflow_provider_voicetraining._wire.models import VoiceTrainingJob
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook


class DirectSource:
    """Per-job polling: each look is one ``GET .../user/jobs/{job_id}`` (or ``short-jobs``).

    :param hook: the trigger's entered async hook.
    :param job_id: the job.
    :param kind: what the job is (:data:`~.wait_rules.KIND_VOICE` or ``KIND_SHORT``).
    """

    def __init__(self, hook: VoiceTrainingHook, job_id: str, kind: str = KIND_VOICE) -> None:
        self.hook = hook
        self.job_id = job_id
        self.fetch = hook.aget_short_job if kind == KIND_SHORT else hook.aget_job

    async def wait(self, interval: float, until_deadline: float | None) -> None:
        """Sleep between polls: one interval, or less if the deadline comes first.

        :param interval: the trigger's poll interval (0 for the first look).
        :param until_deadline: seconds until the wait's deadline (None: it has none).
        """
        await asyncio.sleep(interval if until_deadline is None else max(0.0, min(interval, until_deadline)))

    async def look(self, deadline: float | None, final: bool = False) -> VoiceTrainingJob | None:
        """Show the job (ending by ``deadline``); never None."""
        return await self.fetch(self.job_id, deadline=deadline)

    async def close(self) -> None:
        """Nothing to give back."""


class SharedSource(DirectSource):
    """Shared polling: looks are what the loop's shared poller delivers.

    The first look is the next list cycle's if the task saw the job waiting before it
    deferred (``seen_waiting_at``), else a direct show unless a list cycle reports the job
    sooner; the final one at the deadline is always the trigger's own show.

    :param hook: the trigger's entered async hook (for the final look at the deadline).
    :param job_id: the job.
    :param poller: the shared poller of the job's tenant and app user.
    :param interval: the trigger's poll interval.
    :param seen_waiting_at: epoch at which a poll saw the job still waiting (None: unknown).
    """

    def __init__(
        self,
        hook: VoiceTrainingHook,
        job_id: str,
        poller: SharedPoller,
        interval: float,
        seen_waiting_at: float | None = None,
    ) -> None:
        super().__init__(hook, job_id)
        self.poller = poller
        self.subscription = Subscription(job_id, interval, seen_waiting_at)
        #: the first look waits for a list cycle like any later one (no show)
        self._first_by_list = self.subscription.answered_by_list
        self.last: VoiceTrainingJob | None = None
        self._pending: Observation | None = None
        poller.subscribe(self.subscription)

    async def wait(self, interval: float, until_deadline: float | None) -> None:
        """Wait for news of the job (a change, or the result of a direct show), or the deadline.

        Not woken every interval: between news there is nothing to look at, and ten thousand
        waits each waking once a minute for nothing cost a triggerer more CPU than the list
        cycles themselves.

        :param interval: the trigger's poll interval (0 for the first look: no wait).
        :param until_deadline: seconds until the wait's deadline (None: wait for news only).
        """
        if self._pending is not None or (interval <= 0 and not self._first_by_list):
            return
        self._first_by_list = False
        if until_deadline is None:
            self._pending = await self.subscription.queue.get()
        elif until_deadline > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                self._pending = await within(self.subscription.queue.get(), until_deadline)

    async def look(self, deadline: float | None, final: bool = False) -> VoiceTrainingJob | None:
        """Return the latest news, or the last known state; show the job directly if final.

        None: a list found the job unchanged since it was seen waiting, and nothing showed it yet.
        """
        if final:
            # the final look at the deadline is the trigger's own show, bounded by its deadline
            self._pending = None
            self.subscription.last_direct = time.time()
            self.last = await super().look(deadline)
            return self.last
        if self.last is None and self._pending is None:
            self._pending = await self._first_news(deadline)
        observation, self._pending = self._pending, None
        if observation is not None:
            if observation.error is not None:
                raise observation.error
            self.last = observation.job or self.last
        return self.last

    async def _first_news(self, deadline: float | None) -> Observation:
        """Show a new subscriber's job once, directly, unless a list cycle reports it first.

        The show waits its turn in the client-side rate limiter: a thousand triggers starting
        together at 20 shows per second would otherwise learn of a job that finished meanwhile
        only up to 50 s later, though the next list cycle already told them.
        """
        self.subscription.last_direct = time.time()
        show = asyncio.ensure_future(super().look(deadline))
        news = asyncio.ensure_future(self.subscription.queue.get())
        try:
            await asyncio.wait({show, news}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (show, news):
                if not task.done():
                    task.cancel()
        if news.done() and not news.cancelled():
            return news.result()
        try:
            return Observation(job=show.result())
        except VoiceTrainingError as exc:
            return Observation(error=exc)

    async def close(self) -> None:
        """Unsubscribe (the trigger ended, or was cancelled); the last one retires the poller."""
        self.poller.unsubscribe(self.subscription)
        await self.poller.retire_if_idle()


async def open_source(
    hook: VoiceTrainingHook,
    job_id: str,
    app_user_id: str | None,
    interval: float,
    shared: bool,
    kind: str = KIND_VOICE,
    seen_waiting_at: float | None = None,
) -> DirectSource:
    """Return the source for one trigger's wait: shared (the default for voice jobs) or its own polls.

    :param hook: the trigger's entered async hook.
    :param job_id: the job.
    :param app_user_id: the ``X-App-UserId`` the job is visible under.
    :param interval: the trigger's poll interval.
    :param shared: whether to use the shared poller (voice jobs only).
    :param kind: what the job is.
    :param seen_waiting_at: epoch at which a poll saw the job still waiting (None: unknown).
    """
    if not shared or kind != KIND_VOICE:
        return DirectSource(hook, job_id, kind)
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    settings = await hook.aget_settings()
    conn_id = hook.metastudio_conn_id
    poller = await poller_for(
        settings, app_user_id, lambda: VoiceTrainingHook(conn_id, app_user_id=app_user_id)
    )
    return SharedSource(hook, job_id, poller, interval, seen_waiting_at)
