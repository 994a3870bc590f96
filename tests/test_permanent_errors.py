"""Class 3 of issue 19: every error the hook calls permanent ends a wait at its first poll.

A certificate that does not verify (the server's CA unknown to the client, or a bundle of
another CA) is not retried by the hook, is not transient (:func:`is_transient`), and so ends the
trigger with one ``error`` event (per-job and shared polling) and the sensor with a raise
(poke, reschedule and the deferrable sensor's poll before deferring) at the first poll, even
with a generous ``max_consecutive_errors`` and a long interval.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_voicetraining.errors import VoiceTrainingTransportError, is_transient
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor
from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger
from metastudio_emulator import tls

JOB = "26f06524-4f75-4b3a-a853-b649a21aaf66"
#: the error budget and interval a wait would spend minutes on if the error counted as transient
TOLERATED = 3
INTERVAL = 60.0
#: a wait that ends at its first poll ends well within this
BOUND = 30.0


@pytest.fixture(scope="module")
def other_ca() -> Iterator[str]:
    files = tls.generate()
    yield files.ca_file
    files.cleanup()


@pytest.fixture(params=["unknown CA", "another CA's bundle"])
def bad_verify(request, tls_emu, use_conn, other_ca) -> Any:  # type: ignore[no-untyped-def]
    """A connection to the TLS emulator whose certificate does not verify."""
    verify: Any = True if request.param == "unknown CA" else other_ca
    use_conn(tls_emu, verify=verify, max_retries=5, timeout=5)
    return request.param


def _check_permanent(exc: BaseException) -> None:
    assert isinstance(exc, VoiceTrainingTransportError), repr(exc)
    assert exc.permanent and not is_transient(exc)
    assert exc.attempts == 1  # not retried
    assert "certificate does not verify" in str(exc) and "verify" in str(exc)


def test_sync_hook_raises_a_permanent_error_at_once(bad_verify) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(VoiceTrainingTransportError) as info:
        VoiceTrainingHook().get_job(JOB)
    _check_permanent(info.value)


def test_async_hook_raises_a_permanent_error_at_once(bad_verify) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with VoiceTrainingHook() as hook:
            await hook.aget_job(JOB)

    with pytest.raises(VoiceTrainingTransportError) as info:
        asyncio.run(go())
    _check_permanent(info.value)


@pytest.mark.parametrize("shared", [False, True], ids=["per-job", "shared"])
@pytest.mark.parametrize("seen_waiting", [False, True], ids=["first-show", "first-list"])
def test_trigger_sends_one_error_event_at_the_first_poll(  # type: ignore[no-untyped-def]
    bad_verify, shared: bool, seen_waiting: bool
) -> None:
    trigger = VoiceTrainingJobTrigger(
        job_id=JOB,
        poll_interval=INTERVAL,
        max_consecutive_errors=TOLERATED,
        shared_polling=shared,
        seen_waiting_at=time.time() if seen_waiting else None,
    )

    async def go() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    started = time.monotonic()
    events = asyncio.run(asyncio.wait_for(go(), BOUND))
    assert time.monotonic() - started < BOUND
    assert [e["status"] for e in events] == ["error"]
    message = events[0]["message"]
    assert "after a permanent error" in message and "certificate does not verify" in message


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_sensor_raises_at_the_first_poke(bad_verify, mode: str) -> None:  # type: ignore[no-untyped-def]
    from tests.test_fault_matrix import RecordingTI

    sensor = VoiceTrainingJobSensor(
        task_id="wait", job_id=JOB, mode=mode, max_consecutive_errors=TOLERATED, poke_interval=INTERVAL
    )
    with pytest.raises(VoiceTrainingTransportError) as info:
        sensor.poke({"ti": RecordingTI()})  # type: ignore[arg-type]
    _check_permanent(info.value)


def test_deferrable_sensor_raises_before_deferring(bad_verify) -> None:  # type: ignore[no-untyped-def]
    from tests.test_fault_matrix import RecordingTI

    sensor = VoiceTrainingJobSensor(
        task_id="wait", job_id=JOB, deferrable=True, max_consecutive_errors=TOLERATED, poke_interval=INTERVAL
    )
    with pytest.raises(VoiceTrainingTransportError) as info:  # not TaskDeferred
        sensor.execute({"ti": RecordingTI()})  # type: ignore[arg-type]
    _check_permanent(info.value)


@pytest.mark.parametrize("shared", [False, True], ids=["per-job", "shared"])
def test_a_transient_error_still_counts_against_the_budget(emu, use_conn, shared: bool) -> None:  # type: ignore[no-untyped-def]
    """The other side of the rule: a 503 is tolerated ``max_consecutive_errors`` times."""
    use_conn(emu, max_retries=0)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    emu.control.set_faults([{"route": "*", "kind": "status", "status": 503}])
    trigger = VoiceTrainingJobTrigger(
        job_id=job_id, poll_interval=0.05, max_consecutive_errors=2, shared_polling=shared
    )

    async def go() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(asyncio.wait_for(go(), BOUND))
    assert [e["status"] for e in events] == ["error"]
    assert "3 transient errors in a row" in events[0]["message"]
