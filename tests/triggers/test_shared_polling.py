"""Shared polling against per-job polling: the same scenarios through both sources, the same events.

Each scenario starts a batch of triggers in one event loop (as a triggerer runs them), once with
``shared_polling=False`` (a show-job per poll) and once with the shared poller (list calls),
against the same emulator jobs, and compares the events job by job, under faults too: failing
list calls, 429s, dropped connections, jobs deleted mid-wait, a trigger cancelled mid-cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_voicetraining.triggers import _shared_polling as shared_polling
from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger
from tests.helpers import SCHEDULING_SLACK

INTERVAL = 0.1


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what differs between any two runs (request ids, elapsed seconds)."""
    message = re.sub(r"[0-9a-f]{32}", "<rid>", event["message"])
    message = re.sub(r"\b\d+(\.\d+)?s\b", "<n>s", message)
    message = re.sub(r"\d+ attempts?", "<n> attempts", message)
    job = event.get("job") or {}
    # the state history: which states were seen on the way depends on when each source first
    # looked (jobs run off the clock); where it ended does not
    history = [entry[0] for entry in event.get("history", []) if isinstance(entry, list)]
    return {
        "history_end": history[-1:],
        "status": event["status"],
        "job_id": event["job_id"],
        "state": job.get("state"),
        "asset_id": job.get("asset_id"),
        "failure": event.get("failure"),
        "message": message,
    }


async def run_batch(
    job_ids: list[str],
    shared: bool,
    *,
    end_in: float = 8.0,
    during: Callable[[], Any] | None = None,
    interval: float = INTERVAL,
    **kwargs: Any,
) -> dict[str, dict[str, Any]]:
    end_time = time.time() + end_in

    async def one(job_id: str) -> dict[str, Any]:
        trigger = VoiceTrainingJobTrigger(
            job_id=job_id,
            poll_interval=interval,
            end_time=end_time,
            shared_polling=shared,
            **kwargs,
        )
        return next(iter([e.payload async for e in trigger.run()]))

    tasks = [asyncio.ensure_future(one(j)) for j in job_ids]
    if during is not None:
        await asyncio.sleep(0.3)
        await asyncio.to_thread(during)
    events = await asyncio.gather(*tasks)
    return {e["job_id"]: normalized(e) for e in events}


def _subscribed() -> set[str]:
    """The jobs some shared poller of this process follows (read from the scenario's thread)."""
    pollers = [p for by_key in list(shared_polling._POLLERS.values()) for p in list(by_key.values())]
    return {job for poller in pollers for job in list(poller.subscriptions)}


def once_all_seen(emu: Any, ids: list[str], then: Callable[[], None], settle: float = 1.0) -> None:
    """Wait until every job's trigger learned its state once (triggers start as their
    connections load, which takes seconds on a busy machine), ``settle`` seconds more, then
    run ``then``.

    Learned: the job was shown, or (shared polling) a list call answered after its trigger
    subscribed: a new subscriber's first show is dropped when a list cycle answers first,
    which on a busy machine it often does.
    """
    wanted = set(ids)
    subscribed_at: float | None = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        log = emu.control.requests()
        if {r["path"].rsplit("/", 1)[-1] for r in log if r["route"] == "show_job"} >= wanted:
            break
        if subscribed_at is None and _subscribed() >= wanted:
            subscribed_at = time.time()
        if subscribed_at is not None and any(
            r["route"] == "list_jobs" and r["status"] == 200 and r["time"] > subscribed_at for r in log
        ):
            break
        time.sleep(0.05)
    time.sleep(settle)
    then()


def seed_batch(emu: Any) -> list[str]:
    """Jobs with every kind of ending; timelines run off the clock (lifecycle seeds, done in about
    0.2 s); the held and unknown-state ones end at the deadline (``SCHEDULING_SLACK`` away)."""
    now = time.time()
    seeds = [
        {"outcome": "SUCCEED", "asset_id": "asset-ok"},
        {"outcome": "fail"},
        {"outcome": "audit_fail"},
        {"outcome": "SUCCEED", "asset_id": "asset-late"},
        {"outcome": "PROCESSING"},  # held: ends at the deadline
    ]
    ids = [emu.control.seed_job(commit_time=now, **fields)["job_id"] for fields in seeds]
    ids.append(emu.control.seed_job(state="QUANTUM_TUNING")["job_id"])  # unknown state: keeps waiting
    return ids


def both(emu: Any, scenario: Callable[[], list[str]], **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    emu.control.reset()
    ids = scenario()
    per_job = asyncio.run(run_batch(ids, shared=False, **kwargs))
    per_job_requests = len(emu.control.requests())
    emu.control.reset()
    ids_again = scenario()
    shared = asyncio.run(run_batch(ids_again, shared=True, **kwargs))
    # the second batch has other job ids: compare by position, ids mapped everywhere
    text = json.dumps(shared)
    for other, mine in zip(ids_again, ids, strict=True):
        text = text.replace(other, mine)
    shared = json.loads(text)
    return per_job, {"events": shared, "per_job_requests": per_job_requests}


def test_the_same_events_through_both_sources(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    per_job, result = both(emu, lambda: seed_batch(emu), end_in=SCHEDULING_SLACK)
    assert result["events"] == per_job
    statuses = sorted(e["status"] for e in per_job.values())
    assert statuses == ["failed", "failed", "success", "success", "timeout", "timeout"]


@pytest.mark.parametrize(
    "faults",
    [
        [{"route": "list_jobs", "kind": "status", "status": 503, "rate": 0.5}],
        [{"route": "*", "kind": "throttle", "rate": 0.2, "retry_after": 0.05}],
        [{"route": "*", "kind": "drop", "rate": 0.2}],
    ],
    ids=["list failures", "429", "dropped connections"],
)
def test_the_same_events_under_faults(emu, use_conn, faults: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=8)

    def scenario() -> list[str]:
        ids = seed_batch(emu)
        emu.control.set_faults(faults, seed=3)
        return ids

    per_job, result = both(emu, scenario, end_in=SCHEDULING_SLACK)
    assert result["events"] == per_job


def test_a_job_deleted_mid_wait_ends_with_the_same_error(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    # a deleted job leaves the list calls: the shared poller learns of it from the safety net's
    # direct show. With no client-side query rate that show comes every ten poll intervals
    # (1 s); at the default rate it would be spread to 15 s (1% of the rate for 3 jobs)
    use_conn(emu, rate_limit_queries=0)
    batches: list[list[str]] = []  # each run's jobs; the first one is deleted mid-wait

    def scenario() -> list[str]:
        batches.append([emu.control.seed_job(state="PROCESSING")["job_id"] for _ in range(3)])
        return batches[-1]

    def delete() -> None:
        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

        victim, *others = batches[-1]
        once_all_seen(emu, [victim], lambda: VoiceTrainingHook().delete_job(victim))
        # once the source has been told the job is gone, the others succeed (no wait for a deadline)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            r["route"] == "show_job" and r["status"] == 404 and r["path"].endswith(victim)
            for r in emu.control.requests()
        ):
            time.sleep(0.05)
        for position, job_id in enumerate(others):
            emu.control.set_outcome(job_id, "SUCCEED", at_once=True, asset_id=f"asset-{position}")

    per_job, result = both(emu, scenario, end_in=30.0, during=delete)
    assert result["events"] == per_job
    assert per_job[batches[0][0]]["status"] == "error" and "404" in per_job[batches[0][0]]["message"]
    assert sorted(event["status"] for event in per_job.values()) == ["error", "success", "success"]


def test_shared_polling_learns_from_list_calls_not_per_job_shows(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, rate_limit_queries=0)  # count what each source asks for, unqueued
    shows: dict[bool, Counter[str]] = {}
    lists: dict[bool, int] = {}
    seconds: dict[bool, float] = {}
    for shared in (False, True):
        emu.control.reset()
        ids = [
            emu.control.seed_job(commit_time=time.time(), outcome="PROCESSING")["job_id"] for _ in range(40)
        ]

        def finish(ids: list[str] = ids) -> None:
            once_all_seen(emu, ids, lambda: [emu.control.set_outcome(job_id, "SUCCEED") for job_id in ids])

        started = time.monotonic()
        events = asyncio.run(run_batch(ids, shared=shared, during=finish, end_in=40))
        seconds[shared] = time.monotonic() - started
        assert all(e["status"] == "success" for e in events.values()), {e["status"] for e in events.values()}
        log = emu.control.requests()
        shows[shared] = Counter(r["path"].rsplit("/", 1)[-1] for r in log if r["route"] == "show_job")
        lists[shared] = sum(1 for r in log if r["route"] == "list_jobs")
    # per-job: shows only, each job many times; shared: each job shown once at first and then
    # only by the safety net (here every ten intervals: no query rate to spread it over), the
    # rest learned from list calls (the request ratio itself is measured by `make bench`)
    per_job_shows, shared_shows, shared_lists = shows[False], shows[True], lists[True]
    assert lists[False] == 0 and min(per_job_shows.values()) >= 2
    safety = shared_polling.safety_interval(40, INTERVAL, 0)
    assert max(shared_shows.values()) <= 2 + seconds[True] / safety
    assert sum(shared_shows.values()) < sum(per_job_shows.values())
    assert shared_lists >= 3


def test_a_cancelled_trigger_unsubscribes_and_the_others_carry_on(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    now = time.time()
    done_id = emu.control.seed_job(commit_time=now, outcome="SUCCEED", asset_id="kept")["job_id"]
    held = [emu.control.seed_job(state="PROCESSING")["job_id"] for _ in range(3)]

    async def go() -> tuple[dict[str, Any], int]:
        def trigger(job_id: str) -> VoiceTrainingJobTrigger:
            return VoiceTrainingJobTrigger(job_id=job_id, poll_interval=INTERVAL, end_time=time.time() + 30)

        async def first(job_id: str) -> dict[str, Any]:
            return next(iter([e.payload async for e in trigger(job_id).run()]))

        cancelled = [asyncio.ensure_future(first(j)) for j in held]
        kept = asyncio.ensure_future(first(done_id))
        await asyncio.sleep(0.5)  # mid-cycle: the poller is listing every INTERVAL
        for task in cancelled:
            task.cancel()
        await asyncio.gather(*cancelled, return_exceptions=True)
        event = await kept
        await asyncio.sleep(0.2)
        pollers = shared_polling._POLLERS[asyncio.get_running_loop()]
        return event, sum(len(p.subscriptions) for p in pollers.values())

    event, left = asyncio.run(go())
    assert event["status"] == "success" and event["job"]["asset_id"] == "kept"
    assert left == 0  # every trigger, ended or cancelled, unsubscribed


def test_triggers_with_different_intervals_share_one_poller(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    fast = emu.control.seed_job(state="PROCESSING")["job_id"]
    slow = emu.control.seed_job(state="PROCESSING")["job_id"]

    async def go() -> tuple[list[dict[str, Any]], int, int]:
        async def first(job_id: str, interval: float) -> dict[str, Any]:
            trigger = VoiceTrainingJobTrigger(
                job_id=job_id, poll_interval=interval, end_time=time.time() + 30
            )
            return next(iter([e.payload async for e in trigger.run()]))

        tasks = [asyncio.ensure_future(first(fast, 0.1)), asyncio.ensure_future(first(slow, 0.5))]
        pollers = shared_polling._POLLERS.setdefault(asyncio.get_running_loop(), {})
        while sum(len(p.subscriptions) for p in pollers.values()) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        sharing = len(pollers)
        for job_id in (fast, slow):
            await asyncio.to_thread(emu.control.set_outcome, job_id, "SUCCEED", True)
        results = await asyncio.gather(*tasks)
        return list(results), sharing, len(pollers)

    started = time.monotonic()
    events, sharing, left = asyncio.run(asyncio.wait_for(go(), 30))
    assert [e["status"] for e in events] == ["success", "success"] and sharing == 1
    assert left == 0  # the last subscriber leaving retired the poller
    assert time.monotonic() - started < 10


def _sockets(port: int) -> tuple[dict[str, str], set[str], set[str]]:
    """This process's open fds (fd -> target), and the inodes of its TCP sockets on loopback
    connected to ``port`` (client side, established) and served at ``port`` (the emulator's)."""
    fds: dict[str, str] = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
    inodes = {target[8:-1] for target in fds.values() if target.startswith("socket:[")}
    clients: set[str] = set()
    served: set[str] = set()
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[9] not in inodes:
                    continue
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    served.add(fields[9])
                elif int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                    clients.add(fields[9])
    return fds, clients, served


def _established_to(port: int) -> int:
    """This process's open TCP sockets connected to ``port`` on loopback (client side only)."""
    return len(_sockets(port)[1])


def _fds_besides_the_server(port: int) -> int:
    """This process's open fds, less the sockets the in-process emulator serves at ``port``
    (its thread closes them when it sees the client's close: when, is its business)."""
    fds, _, served = _sockets(port)
    return sum(1 for target in fds.values() if target[8:-1] not in served)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-job"])
def test_an_inline_wait_leaves_no_connection_open(emu, use_conn, shared: bool) -> None:  # type: ignore[no-untyped-def]
    """The non-deferrable operators' path: ``asyncio.run(trigger.wait())`` per wait."""
    use_conn(emu)
    port = int(emu.url.rsplit(":", 1)[1])
    before = _established_to(port)
    for position in range(3):
        job_id = emu.control.seed_job(state="SUCCEED", asset_id=f"inline-{position}")["job_id"]
        trigger = VoiceTrainingJobTrigger(job_id=job_id, poll_interval=0.1, shared_polling=shared)
        fds_before = _fds_besides_the_server(port)
        event = asyncio.run(trigger.wait())
        assert event["status"] == "success"
        assert _established_to(port) == before, f"connections left open after wait {position + 1}"
        assert _fds_besides_the_server(port) <= fds_before, f"files left open after wait {position + 1}"


def test_safety_interval_is_bounded_by_the_query_rate() -> None:
    assert shared_polling.safety_interval(jobs=1, poll_interval=5, query_rate=10) == 50  # ten intervals
    assert shared_polling.safety_interval(jobs=1000, poll_interval=5, query_rate=20) == 5000  # 1% of 20/s
    assert shared_polling.safety_interval(jobs=10_000, poll_interval=60, query_rate=200) == 5000
    assert shared_polling.safety_interval(jobs=50, poll_interval=60, query_rate=20) == 600  # ten intervals


def test_the_pollers_of_one_tenant_share_the_safety_budget(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """The query quota is the tenant's: the app users' pollers count each other's jobs."""
    use_conn(emu)
    held = {
        user: [emu.control.seed_job(state="PROCESSING", app_user_id=user)["job_id"] for _ in range(n)]
        for user, n in (("alice", 3), ("bob", 2))
    }

    async def go() -> list[int]:
        tasks = [
            asyncio.ensure_future(
                VoiceTrainingJobTrigger(job_id=job_id, poll_interval=INTERVAL, app_user_id=user)
                .run()
                .__anext__()
            )
            for user, ids in held.items()
            for job_id in ids
        ]
        pollers = shared_polling._POLLERS.setdefault(asyncio.get_running_loop(), {})
        while sum(len(p.subscriptions) for p in pollers.values()) < 5:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        counted = [shared_polling._tenant_jobs(p) for p in pollers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return counted

    assert asyncio.run(asyncio.wait_for(go(), 30)) == [5, 5]


def test_waits_seen_waiting_are_answered_by_lists_not_shows(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """Triggers whose task saw the job waiting (as after a triggerer failover rebuilds them)
    learn their first look from a list reaching back to then: no show at all, the same events.

    Half the jobs end before the triggers start (after they were seen waiting), half later.
    """
    use_conn(emu, rate_limit_queries=0)
    seen = time.time()
    held = [emu.control.seed_job(commit_time=seen, outcome="PROCESSING")["job_id"] for _ in range(20)]
    early, late = held[:10], held[10:]
    time.sleep(0.2)
    for job_id in early:
        emu.control.set_outcome(job_id, "SUCCEED")
    lists_before = sum(1 for r in emu.control.requests() if r["route"] == "list_jobs")

    def finish_late() -> None:
        time.sleep(1.0)
        for job_id in late:
            emu.control.set_outcome(job_id, "SUCCEED")

    # at 0.5 s per cycle the safety net's first direct shows are due ten intervals later (5 s)
    events = asyncio.run(
        run_batch(
            early + late, shared=True, during=finish_late, end_in=30, interval=0.5, seen_waiting_at=seen
        )
    )
    assert {e["status"] for e in events.values()} == {"success"}
    log = emu.control.requests()
    shows = [r for r in log if r["route"] == "show_job"]
    lists = [r for r in log if r["route"] == "list_jobs"][lists_before:]
    assert not shows, f"{len(shows)} shows"
    # the first cycle reached back to when the jobs were seen waiting (less the skew margin)
    first_since = min(dict(urllib.parse.parse_qsl(r["query"]))["update_since"] for r in lists)
    reach = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seen - shared_polling.SKEW_MARGIN))
    assert first_since <= reach


def test_a_wait_seen_waiting_long_ago_is_shown_first(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """Beyond FIRST_LOOK_REACH a list could cost more pages than the show it saves: shown."""
    use_conn(emu, rate_limit_queries=0)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    long_ago = time.time() - shared_polling.FIRST_LOOK_REACH - 60
    interval = 5.0  # the safety net's first show is due ten intervals (50 s) in: past the test
    assert shared_polling.safety_interval(1, interval, 0) > 30

    def shown() -> list[dict[str, Any]]:
        return [r for r in emu.control.requests(route="show_job") if job_id in r["path"]]

    def release_once_shown() -> None:
        deadline = time.monotonic() + 25
        while not shown() and time.monotonic() < deadline:
            time.sleep(0.1)
        emu.control.set_outcome(job_id, "SUCCEED", at_once=True)

    events = asyncio.run(
        run_batch(
            [job_id],
            shared=True,
            end_in=30,
            interval=interval,
            during=release_once_shown,
            seen_waiting_at=long_ago,
        )
    )
    assert events[job_id]["status"] == "success"
    assert shown(), "the wait did not show the job first"


def test_the_same_events_when_seen_waiting(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """Every ending, seen waiting before it was seeded (a list since then misses no change):
    the same events as per-job polling (which ignores ``seen_waiting_at``)."""
    use_conn(emu)
    per_job, result = both(emu, lambda: seed_batch(emu), end_in=SCHEDULING_SLACK, seen_waiting_at=time.time())
    assert result["events"] == per_job


def test_jobs_changing_while_a_cycle_pages_skip_no_other_job(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """Issue 19, class 6: the mechanism behind jobs a whole interval (or a safety sweep) late.

    150 jobs changed before the cycle: 75 that already succeeded, 75 held in PROCESSING,
    interleaved by update time. The cycle's second page is held (a latency fault) while the 75
    held jobs succeed, so they move in the list the cycle is paging through by offset. Every job
    whose change preceded the cycle must still be handed out by that cycle: paging oldest first,
    about 25 succeeded jobs shifted past the page boundary and were never read (their triggers
    would wait for the safety net); newest first, none is.
    """
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.triggers._shared_polling import Subscription, poller_for

    use_conn(emu, rate_limit_queries=0)
    now = time.time()
    done: list[str] = []
    held: list[str] = []
    for position in range(150):
        updated = int((now - 8 + position * 0.02) * 1000)
        if position % 2:
            held.append(emu.control.seed_job(state="PROCESSING", lastupdate_time=updated)["job_id"])
        else:
            seeded = emu.control.seed_job(state="SUCCEED", asset_id=f"a-{position}", lastupdate_time=updated)
            done.append(seeded["job_id"])
    # the first page goes through; the second is held 5 s, long enough to change the jobs first
    emu.control.set_faults(
        [{"route": "list_jobs", "kind": "latency", "after": 1, "times": 1, "min_delay": 5, "max_delay": 5}]
    )

    def release_the_held_jobs_once_page_two_waits() -> None:
        while not emu.control.stats()["faults_triggered"].get("latency"):
            time.sleep(0.02)
        for job_id in held:
            emu.control.set_outcome(job_id, "SUCCEED", at_once=True, asset_id="late")

    async def go() -> dict[str, shared_polling.Observation]:
        hook = VoiceTrainingHook()
        settings = await hook.aget_settings()
        poller = await poller_for(settings, None, VoiceTrainingHook)
        # every subscriber is in before the first cycle runs (nothing is awaited in between)
        subs = [Subscription(job_id, 60.0, seen_waiting_at=now) for job_id in done + held]
        for sub in subs:
            poller.subscribe(sub)
        await asyncio.to_thread(release_the_held_jobs_once_page_two_waits)
        firsts = await asyncio.gather(*(sub.queue.get() for sub in subs))  # one cycle's answers
        for sub in subs:
            poller.unsubscribe(sub)
        await poller.retire_if_idle()
        return dict(zip((s.job_id for s in subs), firsts, strict=True))

    first = asyncio.run(asyncio.wait_for(go(), 30))
    missed = [job_id for job_id in done if first[job_id].job is None]
    assert not missed, f"{len(missed)} of {len(done)} jobs changed before the cycle were not read"
    assert all(first[job_id].job.state == "SUCCEED" for job_id in done)  # type: ignore[union-attr]
    pages = emu.control.requests(route="list_jobs")
    assert len(pages) >= 2 and all("sort_dir=desc" in r["query"] for r in pages), pages[:2]
