"""Where the sync hook's calls run: the calling thread's own loop, or the private loop thread."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from types import FrameType

import pytest

from airflow_provider_voicetraining._wire import event_loop
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from tests.helpers import SCHEDULING_SLACK


def test_calls_run_on_the_calling_threads_loop_and_reuse_its_connection(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, timeout=6.25)  # a transport setting no other test uses: a pool of its own
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    before = emu.control.stats()["connections"]
    with VoiceTrainingHook() as hook:
        for _ in range(3):
            assert hook.get_job(job_id).state == "WAITING"
        assert list(hook._transport._by_loop) == [event_loop.loop_for_this_thread()]
        assert not event_loop.LOOP_THREAD.owns(event_loop.loop_for_this_thread())
    assert emu.control.stats()["connections"] - before == 1


def test_a_sync_call_from_inside_a_running_loop_goes_to_the_loop_thread(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]

    async def inside() -> str:
        with VoiceTrainingHook() as hook:
            state = hook.get_job(job_id).state
            assert [event_loop.LOOP_THREAD.owns(loop) for loop in hook._transport._by_loop] == [True]
            return state

    assert asyncio.run(inside()) == "WAITING"


class _GaveUp(Exception):
    pass


def _give_up(signum: int, frame: FrameType | None) -> None:
    raise _GaveUp("the caller gave up (as Airflow's execution_timeout does)")


def test_an_abandoned_call_ends_at_once_and_the_thread_calls_again(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=0)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    previous = signal.signal(signal.SIGALRM, _give_up)
    try:
        with VoiceTrainingHook() as hook:
            # connection, loop and pool ready first: the caller gives up during the slow answer,
            # not inside Airflow's connection lookup (whose secrets backends swallow exceptions)
            assert hook.get_job(job_id).state == "WAITING"
            emu.control.set_faults(
                [{"route": "show_job", "kind": "latency", "min_delay": 10.0, "max_delay": 10.0, "times": 1}]
            )
            started = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(_GaveUp):
                hook.get_job(job_id)
            assert time.monotonic() - started < 0.3 + SCHEDULING_SLACK  # not the 10 s the answer takes
            assert hook.get_job(job_id).state == "WAITING"  # the thread's loop works on
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_forked_child_calls_afresh_and_the_parent_keeps_calling(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    with VoiceTrainingHook() as hook:
        assert hook.get_job(job_id).state == "WAITING"  # this thread's loop exists now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report and leave without running any of pytest's teardown
        try:
            with VoiceTrainingHook() as hook:
                os.write(write, json.dumps(hook.get_job(job_id).state).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        assert json.loads(os.read(read, 1000)) == "WAITING"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    # the parent's loop is intact: a new pool is built in a worker thread, whose completion must
    # wake this loop (through descriptors the child must not have unregistered)
    use_conn(emu, timeout=6.5)
    previous = signal.signal(signal.SIGALRM, _give_up)
    signal.setitimer(signal.ITIMER_REAL, 30)  # a broken loop would wait forever
    try:
        with VoiceTrainingHook() as hook:
            assert hook.get_job(job_id).state == "WAITING"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
