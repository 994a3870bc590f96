"""VoiceTrainingJobTrigger against the emulator: event matrix, serialization, resume, deadlines.

These tests pin the trigger's own loop, so they use per-job polling (one show-job per poll,
countable in the emulator's log); ``test_shared_polling.py`` runs the same scenarios through
both sources and compares the events.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from airflow_provider_voicetraining.triggers.voice_training import CLASSPATH, VoiceTrainingJobTrigger


async def events_of(trigger: VoiceTrainingJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


def make(job_id: str, **kwargs: Any) -> VoiceTrainingJobTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("shared_polling", False)
    return VoiceTrainingJobTrigger(job_id=job_id, **kwargs)


# ------------------------------------------------------------------------------- serialization
def test_serialize_is_primitives_and_conn_id_only(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    conn = use_conn(emu)
    trigger = make(
        "job-1",
        end_time=1_900_000_000.5,
        app_user_id="u-1",
        failure_states=["FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"],
        seen_waiting_at=1_899_999_000.25,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "job_id": "job-1",
        "metastudio_conn_id": "metastudio_default",
        "poll_interval": 0.05,
        "end_time": 1_900_000_000.5,
        "failure_states": ["FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"],
        "app_user_id": "u-1",
        "max_consecutive_errors": 5,
        "started_at": trigger.started_at,
        "delete_on_kill": False,
        "shared_polling": False,
        "kind": "voice",
        "seen_waiting_at": 1_899_999_000.25,
    }
    text = json.dumps(kwargs)  # JSON primitives only
    for secret in (conn["login"], conn["password"]):
        assert secret not in text
    rebuilt = VoiceTrainingJobTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_serialized_kwargs_survive_airflow_serde(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    try:
        from airflow.sdk.serde import deserialize, serialize
    except ImportError:  # Airflow 3.0
        from airflow.serialization.serde import deserialize, serialize  # type: ignore[no-redef]

    _, kwargs = make("job-2", end_time=time.time() + 60).serialize()
    assert deserialize(serialize(kwargs)) == kwargs


# ------------------------------------------------------------------------------- event matrix
@pytest.mark.parametrize(
    ("seed", "status", "failure_class"),
    [
        ({"state": "SUCCEED", "asset_id": "asset-1"}, "success", None),
        (
            {"state": "FAILED", "job_failed_code": "MSS.20001001", "job_failed_reason": "SNR too low"},
            "failed",
            "failure",
        ),
        ({"state": "SPLIT_FAILED"}, "failed", "failure"),
        ({"state": "USER_REVIEW_REJECT"}, "failed", "failure"),
        ({"state": "AUDIT_FAILED"}, "failed", "needs_action"),
        ({"state": "USER_RESULT_REVIEW"}, "failed", "needs_action"),
    ],
)
async def test_terminal_states_give_one_event(emu, use_conn, seed, status, failure_class) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(**seed)["job_id"]
    events = await events_of(make(job_id))
    assert len(events) == 1
    event = events[0]
    assert event["status"] == status and event["job_id"] == job_id
    assert event["job"]["state"] == seed["state"]
    json.dumps(event)
    if status == "success":
        assert event["job"]["asset_id"] == "asset-1" and event["failure"] is None
    else:
        failure = event["failure"]
        assert failure["state"] == seed["state"] and failure["state_class"] == failure_class
        if "job_failed_code" in seed:
            assert failure["job_failed_code"] == seed["job_failed_code"]
            assert failure["job_failed_reason"] == seed["job_failed_reason"]
        assert seed["state"] in event["message"]


async def test_audit_failure_carries_the_audit_errors(emu, use_conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="auditfail-x")
    hook.upload_training_data(
        created.upload_urls.training_data_uploading_url,  # type: ignore[arg-type]
        make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01),
    )
    hook.commit_job(created.job_id)
    events = await events_of(make(created.job_id, end_time=time.time() + 30))
    assert events[0]["status"] == "failed", events[0]
    assert events[0]["failure"]["audit_errors"], events[0]


async def test_progresses_through_states_to_success(emu, use_conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="live-voice")
    hook.upload_training_data(
        created.upload_urls.training_data_uploading_url,  # type: ignore[arg-type]
        make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01),
    )
    hook.commit_job(created.job_id)
    events = await events_of(make(created.job_id, poll_interval=0.02))
    assert events[0]["status"] == "success" and events[0]["job"]["asset_id"]
    assert events[0]["history"][-1][0] == "SUCCEED"


async def test_event_carries_the_state_history(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING", lifecycle=True, outcome="PROCESSING")["job_id"]
    waiting = asyncio.create_task(events_of(make(job_id, poll_interval=0.02)))
    for _ in range(500):  # until the trigger has polled the held job a few times (bounded)
        if len(emu.control.requests(route="show_job")) >= 3:
            break
        await asyncio.sleep(0.02)
    emu.control.set_outcome(job_id, "SUCCEED", at_once=True)  # no state between the two
    events = await asyncio.wait_for(waiting, 30)
    # the state changes seen, in order, with seconds since waiting began; JSON-safe
    history = events[0]["history"]
    assert [state for state, _ in history] == ["PROCESSING", "SUCCEED"], history
    assert history[0][1] <= history[1][1] and json.loads(json.dumps(history)) == history
    # one request per poll on the healthy path: no retries, no duplicate calls per iteration
    polls = emu.control.requests(route="show_job")
    assert all(r["status"] == 200 for r in polls)


async def test_needs_action_keeps_waiting_when_not_a_failure_state(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="AUDIT_FAILED")["job_id"]
    trigger = make(job_id, failure_states=["FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"])
    task = asyncio.ensure_future(trigger.run().__anext__())
    waited_for = time.monotonic() + 30  # the connection loads first (slow on a busy machine)
    while len(emu.control.requests(route="show_job")) < 2 and time.monotonic() < waited_for:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    first_polls = time.monotonic()
    await asyncio.sleep(0.5)
    assert not task.done()  # still polling
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    polls = len(emu.control.requests(route="show_job"))
    # it sleeps between polls (0.05 s): no tight loop
    assert 2 <= polls <= 4 + (time.monotonic() - first_polls) / 0.05


async def test_unknown_state_is_in_progress_not_a_crash(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="QUANTUM_TUNING")["job_id"]
    task = asyncio.ensure_future(make(job_id).run().__anext__())
    await asyncio.sleep(0.3)
    assert not task.done()
    emu.control.seed_job(job_id=job_id, state="SUCCEED", asset_id="late-asset")
    event = (await asyncio.wait_for(task, 5)).payload
    assert event["status"] == "success" and event["job"]["asset_id"] == "late-asset"


async def test_deadline_in_the_past_polls_once_then_times_out(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    events = await events_of(make(job_id, end_time=time.time() - 10))
    assert [e["status"] for e in events] == ["timeout"]
    assert events[0]["job"]["state"] == "PROCESSING" and "PROCESSING" in events[0]["message"]
    assert len(emu.control.requests(route="show_job")) == 1


async def test_a_job_finishing_at_the_deadline_is_success_not_timeout(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(state="SUCCEED", asset_id="just-in-time")["job_id"]
    events = await events_of(make(job_id, end_time=time.time() - 1))
    assert events[0]["status"] == "success"


async def test_deadline_is_wall_clock(emu, use_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The deadline is compared with the wall clock (``time.time``), the only clock that means
    the same in the worker that computed it and the triggerer that checks it."""
    import types

    import airflow_provider_voicetraining.triggers.voice_training as module

    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    real_time = time.time
    end_time = real_time() + 60
    # an hour later on the wall clock; a monotonic clock would not have moved
    monkeypatch.setattr(module, "time", types.SimpleNamespace(time=lambda: real_time() + 3600))
    events = await asyncio.wait_for(events_of(make(job_id, end_time=end_time)), 10)
    assert [e["status"] for e in events] == ["timeout"]


async def test_permanent_error_is_reported_at_once(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    events = await events_of(make("26f06524-4f75-4b3a-a853-b649a21aaf66"))
    assert [e["status"] for e in events] == ["error"]
    assert "404" in events[0]["message"] and "permanent" in events[0]["message"]
    assert len(emu.control.requests(route="show_job")) == 1


async def test_transient_errors_are_tolerated_up_to_the_budget(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=0)
    job_id = emu.control.seed_job(state="SUCCEED", asset_id="after-outage")["job_id"]
    emu.control.set_faults([{"route": "show_job", "kind": "status", "status": 503, "times": 3}])
    events = await events_of(make(job_id, max_consecutive_errors=3))
    assert events[0]["status"] == "success"

    emu.control.set_faults([{"route": "show_job", "kind": "status", "status": 503}])
    events = await events_of(make(job_id, max_consecutive_errors=2))
    assert events[0]["status"] == "error" and "3 transient errors in a row" in events[0]["message"]


async def test_bad_job_id_is_an_error_event_before_any_request(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    events = await events_of(make("../../etc/passwd"))
    assert events[0]["status"] == "error" and "job_id" in events[0]["message"]
    assert emu.control.requests() == []


async def test_missing_connection_is_an_error_event(emu) -> None:  # type: ignore[no-untyped-def]
    events = await events_of(make("job-x", metastudio_conn_id="does_not_exist"))
    assert len(events) == 1 and events[0]["status"] == "error"
    assert "does_not_exist" in events[0]["message"]


async def test_resume_after_triggerer_restart(emu, use_conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A trigger rebuilt from serialize() (new triggerer process) picks up where it was."""
    use_conn(emu)
    job_id = emu.control.seed_job(state="PROCESSING")["job_id"]
    first = make(job_id, end_time=time.time() + 60)
    task = asyncio.ensure_future(first.run().__anext__())
    await asyncio.sleep(0.2)
    task.cancel()  # the triggerer died
    with pytest.raises(asyncio.CancelledError):
        await task
    _, kwargs = first.serialize()
    emu.control.seed_job(job_id=job_id, state="SUCCEED", asset_id="resumed-asset")
    resumed = VoiceTrainingJobTrigger(**kwargs)
    events = await events_of(resumed)
    assert events[0]["status"] == "success" and events[0]["job"]["asset_id"] == "resumed-asset"
    assert resumed.started_at == first.started_at


async def test_the_event_loop_is_never_blocked(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """While the trigger waits 3 s for an answer, the loop keeps running other tasks: a
    blocking call would let the heartbeat beat at most once (counted, not timed)."""
    use_conn(emu)
    job_id = emu.control.seed_job(state="SUCCEED", asset_id="slow")["job_id"]
    emu.control.set_faults([{"route": "show_job", "kind": "latency", "min_delay": 3.0, "max_delay": 3.0}])
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        while True:
            await asyncio.sleep(0.01)
            beats += 1

    beat = asyncio.ensure_future(heartbeat())
    events = await events_of(make(job_id))
    beat.cancel()
    assert events[0]["status"] == "success"
    assert beats >= 3, f"the heartbeat beat {beats} times in a 3 s call: the event loop was blocked"


async def test_on_kill_deletes_only_when_asked(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    keep = emu.control.seed_job(state="PROCESSING")["job_id"]
    drop = emu.control.seed_job(state="PROCESSING")["job_id"]
    await make(keep).on_kill()
    await make(drop, delete_on_kill=True).on_kill()
    assert emu.control.job(keep)["state"] == "PROCESSING"
    assert [r["status"] for r in emu.control.requests(route="delete_job")] == [200]


@pytest.mark.parametrize("shared", [True, False])
def test_tasks_pass_shared_polling_to_the_trigger(shared: bool) -> None:
    """The sensor and both operators choose shared or per-job polling for their trigger."""
    from airflow_provider_voicetraining.operators.voice_training import (
        CreateVoiceTrainingJobOperator,
        VoiceTrainingJobResultOperator,
    )
    from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

    tasks = [
        VoiceTrainingJobSensor(task_id="s", job_id="j", shared_polling=shared),
        VoiceTrainingJobResultOperator(task_id="r", job_id="j", shared_polling=shared),
        CreateVoiceTrainingJobOperator(
            task_id="c", edition="basic", voice_name="v", training_package="p.zip", shared_polling=shared
        ),
    ]
    for task in tasks:
        _, kwargs = task.make_trigger("j" * 32, None, 0.0).serialize()
        assert kwargs["shared_polling"] is shared, type(task).__name__
