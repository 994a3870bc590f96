"""Client-side rate limits: the limiter's schedule, and bursts that queue instead of drawing 429s
from an emulator that throttles each API at the region's documented rate."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_provider_voicetraining._wire.rate_limits import RATE_LIMITER, RateLimiter, Slot
from airflow_provider_voicetraining._wire.vocabulary import rate_limits
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from metastudio_emulator import EmulatorConfig, EmulatorServer


def _wait(slot: Slot | None) -> float:
    assert slot is not None
    return slot.wait


def test_at_most_rate_requests_start_in_any_one_second_window() -> None:
    limiter = RateLimiter()
    starts = [round(_wait(limiter.reserve("tenant", "create", 3, now=0.0)), 3) for _ in range(10)]
    assert starts == [0.0, 0.0, 0.0, 1.05, 1.05, 1.05, 2.1, 2.1, 2.1, 3.15]
    # each API and each tenant has its own schedule; 0 means unlimited
    assert _wait(limiter.reserve("tenant", "show_job", 3, now=0.0)) == 0.0
    assert _wait(limiter.reserve("other", "create", 3, now=0.0)) == 0.0
    assert _wait(limiter.reserve("tenant", "create", 0, now=0.0)) == 0.0
    # a fractional rate spaces requests 1/rate apart
    assert [round(_wait(limiter.reserve("t", "list", 0.5, now=0.0)), 3) for _ in range(3)] == [0.0, 2.05, 4.1]


def test_region_defaults_are_the_documented_limits() -> None:
    assert (rate_limits("cn-north-4").queries, rate_limits("cn-north-4").writes) == (20, 10)
    assert (rate_limits("cn-east-3").queries, rate_limits("cn-east-3").writes) == (10, 3)
    assert (rate_limits("ap-southeast-3").queries, rate_limits("ap-southeast-3").writes) == (10, 3)
    assert rate_limits("eu-west-101").writes == 3  # unknown: the lowest documented


@pytest.fixture(scope="module", params=[True, False], ids=["limited", "unlimited"])
def throttling_emulator(request: pytest.FixtureRequest) -> Iterator[tuple[EmulatorServer, bool]]:
    """cn-east-3's documented rates, and whether the client paces itself. The unpaced client
    meets a gateway allowing one show-job per 100 s: a burst draws 429s however slow the machine."""
    overrides = {} if request.param else {"show_job": 0.01}
    config = EmulatorConfig(
        time_scale=0.01, region="cn-east-3", api_rate_limits=True, api_rate_overrides=overrides
    )
    with EmulatorServer(config) as server:
        yield server, request.param


def test_a_burst_queues_on_the_client_instead_of_drawing_429s(throttling_emulator, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    emu, client_limit = throttling_emulator
    emu.control.reset()
    # the limited client may retry: on a heavily loaded machine a request can leave its slot
    # late and meet the next window's, so a rare 429 is honoured like any other
    extra = {"max_retries": 3} if client_limit else {"max_retries": 0, "rate_limit_queries": 0}
    monkeypatch.setenv("AIRFLOW_CONN_METASTUDIO_DEFAULT", emu.connection_json(**extra))
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    hook = VoiceTrainingHook()
    assert hook.get_job(job_id).state == "WAITING"  # the first call imports httpcore's backends
    time.sleep(1.1)
    emu.control.clear_requests()

    def one(_: int) -> str:
        try:
            return hook.get_job(job_id).state
        except Exception as exc:  # the unlimited client meets the gateway's 429s
            return type(exc).__name__

    scheduled: list[float] = []  # when the client's limiter lets each request go (monotonic)
    reserve = RATE_LIMITER.reserve

    def recording_reserve(
        tenant: str, api: str, rate: float, now: float | None = None, max_wait: float = math.inf
    ) -> Slot | None:
        slot = reserve(tenant, api, rate, now=now, max_wait=max_wait)
        if slot is not None:
            scheduled.append(slot.start)
        return slot

    monkeypatch.setattr(RATE_LIMITER, "reserve", recording_reserve)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(30)))
    elapsed = time.monotonic() - started
    statuses = [r["status"] for r in emu.control.requests(route="show_job")]
    if client_limit:
        # cn-east-3 allows 10 show-job per second: the client lets at most 10 go in any second
        # (what the gateway sees also depends on when each request arrives: on a loaded machine
        # one can leave its slot late and meet the next window's, and its 429 is retried)
        scheduled.sort()
        gaps = [later - first for first, later in zip(scheduled, scheduled[10:], strict=False)]
        assert min(gaps) > 1.0, scheduled
        assert results == ["WAITING"] * 30, statuses
        assert statuses.count(429) < statuses.count(200), statuses  # the unlimited burst: ~20 of 30
        assert elapsed >= 1.9
    else:
        assert statuses.count(429) >= 29 and "VoiceTrainingThrottledError" in results
    json.dumps(emu.control.stats()["api_rate_limits"])


def test_a_call_refused_by_its_deadline_holds_no_slot() -> None:
    limiter = RateLimiter()
    burst = [limiter.reserve("tenant", "show_job", 5, now=0.0, max_wait=1.0) for _ in range(30)]
    assert sum(slot is not None for slot in burst) == 5  # 25 refused: none due within 1 s
    later = limiter.reserve("tenant", "show_job", 5, now=2.0, max_wait=1.0)
    assert later is not None and later.wait == 0.0


def test_a_slot_given_back_is_the_next_callers() -> None:
    limiter = RateLimiter()
    assert _wait(limiter.reserve("tenant", "show_job", 1, now=0.0)) == 0.0
    queued = limiter.reserve("tenant", "show_job", 1, now=0.0)
    assert queued is not None and queued.wait == pytest.approx(1.05)
    limiter.release(queued)
    limiter.release(queued)  # twice is harmless
    assert _wait(limiter.reserve("tenant", "show_job", 1, now=0.0)) == pytest.approx(1.05)  # not 2.1


async def test_refused_calls_leave_the_schedule_free(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.errors import VoiceTrainingThrottledError

    use_conn(emu, rate_limit_queries=5, max_retries=0)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    async with VoiceTrainingHook() as hook:
        deadline = time.time() + 1.0
        results = await asyncio.gather(
            *(hook.aget_job(job_id, deadline=deadline) for _ in range(30)), return_exceptions=True
        )
        refused = [r for r in results if isinstance(r, VoiceTrainingThrottledError)]
        assert len(refused) == 25 and all("no slot before the call's deadline" in str(r) for r in refused)
        assert sum(getattr(r, "state", None) == "WAITING" for r in results) == 5
        await asyncio.sleep(2.0)  # the scenario: a call made 2 s after the burst
        job = await hook.aget_job(job_id, deadline=time.time() + 1.0)
    assert job.state == "WAITING"
    assert len(emu.control.requests(route="show_job")) == 6  # refused calls sent nothing


async def test_a_call_cancelled_while_queued_gives_its_slot_back(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, rate_limit_queries=1, max_retries=0)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    async with VoiceTrainingHook() as hook:
        await hook.aget_job(job_id)  # takes this second's slot
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(hook.aget_job(job_id), 0.3)  # queued ~1 s, then cancelled
        # due in ~0.75 s if the cancelled call's slot came back, ~1.8 s (refused) if it did not
        job = await hook.aget_job(job_id, deadline=time.time() + 1.5)
    assert job.state == "WAITING"
    assert len(emu.control.requests(route="show_job")) == 2
