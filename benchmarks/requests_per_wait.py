"""Requests per wait: HTTP requests per sensor poke and per trigger poll, from the emulator's log.

The sensor runs its real poke loop (``VoiceTrainingJobSensor(mode="poke").execute(context)``,
Airflow's ``BaseSensorOperator.execute``) and the trigger its real ``run()`` generator, each
waiting for a lifecycle job (``SYSTEM_AUDITING`` ... ``SUCCEED``, about 3 s) with a 0.2 s
interval. Pokes and polls are counted on the client (a counting wrapper around
``hook.get_job`` / ``hook.aget_job``); HTTP requests are counted by the emulator (its own
process), per job and per route. A job ending ``AUDIT_FAILED`` shows the one extra request of
a failure: the audit result, fetched once for the failure details.

Run: ``python -m benchmarks.requests_per_wait [--json PATH]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from typing import Any

from benchmarks._common import CONN_ENV, emit_json, prepare_env, print_header, table, verdict

TIME_SCALE = 0.15  # a basic job's 19 s timeline in about 3 s
INTERVAL = 0.2


class _StubTI:
    """The part of a task instance the sensor touches in poke mode."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def run_sensor(job_id: str) -> dict[str, Any]:
    from airflow_provider_voicetraining.errors import VoiceTrainingJobFailedError
    from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

    sensor = VoiceTrainingJobSensor(
        task_id=f"wait_{job_id}", job_id=job_id, mode="poke", poke_interval=INTERVAL, deferrable=False
    )
    pokes = 0
    poke = sensor.poke

    def counting_poke(context: Any) -> Any:
        nonlocal pokes
        pokes += 1
        return poke(context)

    sensor.poke = counting_poke  # type: ignore[method-assign]
    context: Any = {"ti": _StubTI()}
    try:
        result = sensor.execute(context)
        outcome = f"success ({result['state']})"
    except VoiceTrainingJobFailedError as exc:
        outcome = f"failed ({exc.details.get('state')})"
    return {"waits": pokes, "outcome": outcome}


def run_trigger(job_id: str) -> dict[str, Any]:
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger

    polls = 0
    original = VoiceTrainingHook.aget_job

    async def counting_aget_job(self: Any, job_id: str, **kwargs: Any) -> Any:
        nonlocal polls
        polls += 1
        return await original(self, job_id, **kwargs)

    VoiceTrainingHook.aget_job = counting_aget_job  # type: ignore[method-assign]
    try:

        async def drive() -> list[dict[str, Any]]:
            # per-job polling: one show per poll (shared polling is measured in polling_at_scale)
            trigger = VoiceTrainingJobTrigger(job_id=job_id, poll_interval=INTERVAL, shared_polling=False)
            return [event.payload async for event in trigger.run()]

        events = asyncio.run(drive())
    finally:
        VoiceTrainingHook.aget_job = original  # type: ignore[method-assign]
    state = (events[0].get("job") or {}).get("state") if events else None
    return {"waits": polls, "outcome": f"{len(events)} event: {events[0]['status']} ({state})"}


def run() -> list[dict[str, Any]]:
    prepare_env()
    # State-change lines would drown the tables; the level does not change what is sent.
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    # Loaded before the jobs start their (short) timelines.
    import airflow_provider_voicetraining.hooks.voice_training
    import airflow_provider_voicetraining.sensors.voice_training
    import airflow_provider_voicetraining.triggers.voice_training  # noqa: F401
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    cases = [
        ("sensor, poke mode", "SUCCEED", run_sensor),
        ("sensor, poke mode", "audit_fail", run_sensor),
        ("trigger, per-job polling", "SUCCEED", run_trigger),
        ("trigger, per-job polling", "audit_fail", run_trigger),
    ]
    rows = []
    with spawn_emulator_process(EmulatorConfig(seed=1, time_scale=TIME_SCALE)) as emu:
        os.environ[CONN_ENV] = emu.connection_json()
        for i, (who, outcome, fn) in enumerate(cases):
            job_id = f"bench-requests-{i}"
            emu.control.seed_job(
                job_id=job_id, commit_time=time.time(), outcome=outcome, asset_id=f"asset-{i}"
            )
            result = fn(job_id)
            routes = Counter(e["route"] for e in emu.control.requests() if f"/jobs/{job_id}" in e["path"])
            rows.append({"who": who, "job_id": job_id, "routes": dict(routes), **result})
    return rows


def report(rows: list[dict[str, Any]]) -> bool:
    out = []
    ok = True
    for r in rows:
        shows = r["routes"].get("show_job", 0)
        others = {k: v for k, v in r["routes"].items() if k != "show_job"}
        per_wait = shows / max(1, r["waits"])
        ok = ok and shows == r["waits"]
        out.append(
            [
                r["who"],
                r["outcome"],
                r["waits"],
                shows,
                f"{per_wait:.3f}",
                ", ".join(f"{k}: {v}" for k, v in others.items()) or "-",
            ]
        )
    print(
        table(
            ["waiter", "outcome", "pokes / polls", "GET job requests", "per poke/poll", "other requests"],
            out,
        )
    )
    print(
        table(
            ["target", "measured", "verdict"],
            [
                [
                    "exactly one HTTP request per poke and per poll (healthy path)",
                    "GET job requests == pokes/polls in every case",
                    verdict(ok),
                ]
            ],
        )
    )
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.requests_per_wait", description=__doc__)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    print_header(
        "Requests per wait (sensor pokes, trigger polls)",
        "Emulator request log per job vs pokes/polls counted on the client; lifecycle jobs of ~3 s, "
        f"{INTERVAL} s interval.",
    )
    rows = run()
    report(rows)
    emit_json(args.json, rows)


if __name__ == "__main__":
    main()
