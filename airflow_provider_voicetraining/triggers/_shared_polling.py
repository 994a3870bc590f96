"""Shared polling: the waits of one event loop on one tenant and app user share one poller.

Each cycle, :class:`SharedPoller` learns what changed for all its subscribers with list calls
(``update_since`` = the previous cycle's start minus :data:`SKEW_MARGIN`, newest
``update_time`` first, all pages) and hands each subscriber its job. Newest first, because the
pages are read by offset while jobs keep changing: a job that changes mid-cycle moves to the
front, so the jobs behind it shift to later offsets (one is read twice, and skipped the second
time) and none is missed; the changed job is the next cycle's news. Oldest first, every change
mid-cycle shifted the rest towards the pages already read, and a job whose change preceded the
cycle could go unread until the safety net. Direct shows remain where a list
cannot answer: a subscriber's first look (unless the task saw the job waiting within
:data:`FIRST_LOOK_REACH`), a cycle whose list call failed, and the safety net, once per
:func:`safety_interval` per job. The cycle runs at the shortest interval among subscribers;
a poller without subscribers stops. Why these numbers: docs/design.md and
docs/performance.md.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining._wire.errors import VoiceTrainingError
from airflow_provider_voicetraining._wire.time_limits import within

if TYPE_CHECKING:
    from airflow_provider_voicetraining._wire.models import VoiceTrainingJob
    from airflow_provider_voicetraining._wire.settings import ConnectionSettings
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

#: ``update_since`` reaches this far back before the previous cycle's start: clock skew between
#: the triggerer and the service (NTP keeps both within a second or two), and the time the
#: service takes to make an update visible. Changes inside the margin are reported again by the
#: next cycles, which costs list pages (every job changed in the last interval + margin), not
#: correctness; a change the margin still misses is caught by the safety net.
SKEW_MARGIN = 10.0
#: Every job is shown directly at least this many poll intervals apart (the safety net) ...
SAFETY_INTERVALS = 10
#: ... and the safety sweep uses at most this share of the connection's query rate.
SAFETY_RATE_SHARE = 0.01
#: The shortest cycle, whatever the triggers ask for (a guard against a zero interval).
MIN_CYCLE = 0.05
#: A list answers a subscriber's first look only if the job was seen waiting at most this long
#: ago: the list then returns every job of the app user changed since (one page per hundred),
#: which for a wait rebuilt after days could cost more pages than the show it saves.
FIRST_LOOK_REACH = 24 * 3600.0


def safety_interval(jobs: int, poll_interval: float, query_rate: float) -> float:
    """Seconds between two direct shows of one job (the safety net): at least
    :data:`SAFETY_INTERVALS` poll intervals, and slow enough that showing ``jobs`` jobs uses at
    most :data:`SAFETY_RATE_SHARE` of ``query_rate``."""
    floor = SAFETY_INTERVALS * poll_interval
    if query_rate <= 0:
        return floor
    return max(floor, jobs / (SAFETY_RATE_SHARE * query_rate))


@dataclass
class Observation:
    """What one look at a job found: the job, the error the look ended in, or neither.

    Neither: a list reaching back to when the job was seen waiting did not mention it, so it
    is unchanged since.
    """

    job: VoiceTrainingJob | None = None
    error: VoiceTrainingError | None = None


@dataclass(eq=False)
class Subscription:
    """One trigger's interest in one job; observations are delivered in order."""

    job_id: str
    interval: float
    #: epoch at which a poll (the task's, before it deferred) saw the job still waiting
    seen_waiting_at: float | None = None
    queue: asyncio.Queue[Observation] = field(default_factory=asyncio.Queue)
    last_direct: float = field(default_factory=time.time)
    #: whether a list cycle answers the first look (no direct show): decided once, here, so the
    #: poller and the trigger's source cannot disagree
    answered_by_list: bool = field(init=False)

    def __post_init__(self) -> None:
        seen = self.seen_waiting_at
        self.answered_by_list = seen is not None and self.last_direct - seen <= FIRST_LOOK_REACH

    def deliver(self, observation: Observation) -> None:
        """Hand the trigger an observation (it reads them in order)."""
        self.queue.put_nowait(observation)


class SharedPoller:
    """The poller of one (tenant, app user) on one event loop; see the module docstring.

    :param hook: an entered async hook on the tenant's connection (owned by the poller).
    :param app_user_id: the ``X-App-UserId`` the subscribers' jobs were created with.
    """

    def __init__(
        self, hook: VoiceTrainingHook, app_user_id: str | None, key: tuple[str, str | None] | None = None
    ) -> None:
        self.hook = hook
        self.app_user_id = app_user_id
        #: where :func:`poller_for` keeps it (it leaves there when it retires)
        self.key = key
        self._retired = False
        self.subscriptions: dict[str, list[Subscription]] = {}
        #: how many subscribers ask for each interval (the cycle's pace without a scan of all)
        self._intervals: Counter[float] = Counter()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._since: float | None = None
        #: subscribers whose first look the next cycle's list answers
        self._first_looks: list[Subscription] = []
        #: the direct shows in flight (a task nothing references could be collected)
        self._shows: set[asyncio.Task[None]] = set()

    # -- subscribers ---------------------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> None:
        """Add a subscriber, then follow it by list cycles.

        Its first look is the next cycle's (reaching back to when the job was seen waiting) or,
        if it was not seen waiting lately, its trigger's own show.
        """
        faster = not self._intervals or subscription.interval < self.shortest_interval
        self.subscriptions.setdefault(subscription.job_id, []).append(subscription)
        if subscription.answered_by_list:
            self._first_looks.append(subscription)
        self._intervals[subscription.interval] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="voicetraining-poller")
        elif faster:
            self._wake.set()  # the cycle sleeping out a longer interval re-evaluates

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscriber (a trigger that ended or was cancelled)."""
        subscribers = self.subscriptions.get(subscription.job_id, [])
        if subscription not in subscribers:
            return
        subscribers.remove(subscription)
        if not subscribers:
            self.subscriptions.pop(subscription.job_id, None)
        self._intervals[subscription.interval] -= 1
        if self._intervals[subscription.interval] <= 0:
            del self._intervals[subscription.interval]
        if not self.subscriptions:
            self._wake.set()  # the cycle ends

    async def retire_if_idle(self) -> None:
        """Stop a poller left without subscribers and give its connections back.

        It leaves the loop's registry before anything is awaited, so a trigger arriving
        meanwhile gets a new poller; an inline wait (``asyncio.run(trigger.wait())``) ends with
        no connection left open.
        """
        if self.subscriptions or self._retired:
            return
        self._retired = True
        pollers = _POLLERS.get(asyncio.get_running_loop(), {})
        if self.key is not None and pollers.get(self.key) is self:
            del pollers[self.key]
        tasks = [t for t in (self._task, *self._shows) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.hook.aclose()

    def _all(self) -> list[Subscription]:
        return [s for subscribers in self.subscriptions.values() for s in subscribers]

    @property
    def shortest_interval(self) -> float:
        """The cycle's pace: the shortest poll interval among the subscribers.

        Kept as counts per interval, because thousands of triggers subscribing one after the other
        would otherwise each cost a scan of all the others (quadratic start-up).
        """
        return min(self._intervals) if self._intervals else MIN_CYCLE

    # -- the cycle -----------------------------------------------------------------------------
    async def _run(self) -> None:
        while self.subscriptions:
            started = time.time()
            await self._cycle(started)
            # sleep out the cycle; a faster subscriber, or the last one leaving, wakes it early
            while self.subscriptions:
                cycle = max(MIN_CYCLE, self.shortest_interval)
                left = started + cycle - time.time()
                if left <= 0:
                    break
                self._wake.clear()
                try:
                    await within(self._wake.wait(), left)
                except asyncio.TimeoutError:
                    break

    async def _cycle(self, started: float) -> None:
        from airflow_provider_voicetraining._wire.listing import JobFilters

        # the first looks this cycle answers: those subscribed before it started (a subscriber
        # arriving mid-listing may have missed its page and waits for the next cycle)
        first_looks, self._first_looks = self._first_looks, []
        since = min(
            [self._since if self._since is not None else started]
            + [s.seen_waiting_at for s in first_looks if s.seen_waiting_at is not None]
        )
        since -= SKEW_MARGIN
        reported: set[str] = set()
        filters = JobFilters(
            update_since=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since)),
            sort_key="update_time",
            sort_dir="desc",  # see the module docstring: no job is skipped while others change
        )
        try:
            # each page's news is handed out as it arrives, not after the last page
            async for job in self.hook.alist_jobs(filters, page_size=100, app_user_id=self.app_user_id):
                if job.job_id in reported:  # shifted by a change in front of it: already handed out
                    continue
                reported.add(job.job_id)
                for subscription in self.subscriptions.get(job.job_id, []):
                    subscription.deliver(Observation(job=job))
        except VoiceTrainingError as exc:
            self.hook.log.warning("Listing changed jobs failed (%s); showing each job this cycle", exc)
            self._show_soon(self._all())  # the first looks included
            return
        for subscription in first_looks:
            if subscription.job_id not in reported:
                subscription.deliver(Observation())  # unchanged since it was seen waiting
        self._since = started
        self._safety_net(started)

    def _safety_net(self, now: float) -> None:
        subscriptions = self._all()
        if not subscriptions:
            return
        interval = self.shortest_interval
        # the quota is the tenant's: the pollers of its other app users share the sweep's share
        every = safety_interval(_tenant_jobs(self), interval, self.hook.settings.query_rate)
        due = [s for s in subscriptions if now - s.last_direct >= every]
        # spread the sweep: at most the share of jobs one cycle's time allows
        budget = max(1, int(len(self.subscriptions) * max(MIN_CYCLE, interval) / every))
        self._show_soon(sorted(due, key=lambda s: s.last_direct)[:budget])

    def _show_soon(self, subscriptions: Iterable[Subscription]) -> None:
        for subscription in subscriptions:
            subscription.last_direct = time.time()
            task = asyncio.get_running_loop().create_task(self._show(subscription))
            self._shows.add(task)
            task.add_done_callback(self._shows.discard)

    async def _show(self, subscription: Subscription) -> None:
        try:
            job = await self.hook.aget_job(subscription.job_id, app_user_id=self.app_user_id)
        except VoiceTrainingError as exc:
            subscription.deliver(Observation(error=exc))
            return
        subscription.deliver(Observation(job=job))


_CREATING: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str | None], asyncio.Lock]
] = weakref.WeakKeyDictionary()
_POLLERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str | None], SharedPoller]] = (
    weakref.WeakKeyDictionary()
)


def _tenant_jobs(poller: SharedPoller) -> int:
    """Count the jobs followed on this event loop by every poller of ``poller``'s tenant."""
    tenant = poller.hook.settings.tenant
    pollers = _POLLERS.get(asyncio.get_running_loop(), {}).values()
    return max(
        len(poller.subscriptions),
        sum(len(p.subscriptions) for p in pollers if p.hook.settings.tenant == tenant),
    )


async def poller_for(settings: ConnectionSettings, app_user_id: str | None, make_hook: Any) -> SharedPoller:
    """Return the event loop's poller for these exact connection settings and app user.

    Keyed on :attr:`ConnectionSettings.fingerprint` (credentials included, as a digest): a
    connection whose secret was rotated gets a new poller, the old one ends with its last
    subscriber. ``make_hook()`` builds an unentered async hook on the connection.
    """
    loop = asyncio.get_running_loop()
    pollers = _POLLERS.setdefault(loop, {})
    key = (settings.fingerprint, app_user_id)
    poller = pollers.get(key)
    if poller is None:
        # one creator per key: triggers starting together wait for it instead of each opening
        # (and then closing) a hook of their own
        async with _CREATING.setdefault(loop, {}).setdefault(key, asyncio.Lock()):
            poller = pollers.get(key)
            if poller is None:
                hook = make_hook()
                await hook.__aenter__()
                poller = pollers[key] = SharedPoller(hook, app_user_id, key)
    return poller
