"""The trigger's ``kind="short"``: it polls the recording check (``GET P/user/short-jobs/{id}``),
ends on success without an asset id, reports a failed check, serializes its kind and never
deletes a short job."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger


async def _events(trigger: VoiceTrainingJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


@pytest.mark.parametrize(("state", "status"), [("SUCCEED", "success"), ("FAILED", "failed")])
async def test_short_job_is_polled_at_its_own_endpoint(emu, use_conn, state: str, status: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(kind="short", state=state)["job_id"]
    trigger = VoiceTrainingJobTrigger(job_id, poll_interval=0.05, kind="short")
    (event,) = await _events(trigger)
    assert event["status"] == status and event["job"]["job_type"] == "VOICE_ASSESS"
    assert event["job"]["asset_id"] is None
    routes = {r["route"] for r in emu.control.requests()}
    assert "show_short_job" in routes and "show_job" not in routes
    # the voice kind finds no such voice job: a 404 is a permanent error
    (voice_event,) = await _events(VoiceTrainingJobTrigger(job_id, poll_interval=0.05))
    assert voice_event["status"] == "error"


async def test_short_kind_round_trips_and_never_deletes(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = emu.control.seed_job(kind="short", state="PROCESSING")["job_id"]
    trigger = VoiceTrainingJobTrigger(job_id, kind="short", delete_on_kill=True)
    classpath, kwargs = trigger.serialize()
    assert kwargs["kind"] == "short" and kwargs["delete_on_kill"] is False
    assert VoiceTrainingJobTrigger(**kwargs).serialize() == (classpath, kwargs)
    await trigger.on_kill()
    assert emu.control.requests(route="delete_job") == []
    with pytest.raises(ValueError, match="kind"):
        VoiceTrainingJobTrigger(job_id, kind="avatar")
