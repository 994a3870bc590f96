"""Waiting at scale, shared polling side by side with per-job polling, and creates under quota.

Scenarios (each variant in a fresh client process, against a fresh emulator in its own process,
over TLS):

* ``1k``: 1,000 concurrent deferred waits (real ``VoiceTrainingJobTrigger.run()`` coroutines in
  one event loop, as a triggerer runs them, starts spread over one interval), one connection,
  a 5 s poll interval, jobs finishing spread from 20 s to 320 s after the start (every 10th
  fails). Variants: ``shared`` (the default), ``per_job`` (a show-job per poll; its client-side
  rate limit is lifted, or it could not keep its interval at all). Figures:
  API requests per job per interval waited (target <= 0.05), detection delay (target <= the
  interval + 2 s), correct events, client CPU, RSS, connections opened.
* ``10k``: 10,000 waits in one loop at a 60 s interval across ten app users (a platform
  triggerer with raised capacity, on a tenant with a raised query quota of 200/s), jobs held in
  PROCESSING; after a 120 s start-up (every job subscribed and shown once) three intervals are
  measured. Figures: client CPU (target <= 2 % of one core), RSS growth (target <= 300 MB),
  API requests per interval; shared and per-job. The safety net's first sweep is due only
  after 5,000 s: the shared run then back-dates every subscription's last direct show, so that
  the sweep runs at its real pace, and measures three more intervals.
* ``sweep``: requests per 5 s interval against the number of waits (10 to 1,000, held in
  PROCESSING, one app user), shared and per-job, each size on a fresh emulator, measured over
  three intervals after a start-up of three; not in the default run. Its ``--json`` output,
  committed as ``docs/_data/polling_sweep.json``, is the docs' performance plot.
* ``creates``: 500 ``CreateVoiceTrainingJobOperator`` runs (create, upload, commit) from 16
  worker threads of one process against an emulator that throttles create and commit at
  cn-east-3's 3/s. Figures: tasks failed (target 0), 429s seen, creates per second (target
  >= 90 % of 3/s).

Run: ``python -m benchmarks.polling_at_scale [--scenarios 1k,10k,creates]`` (about 35 minutes
for all three).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CONN_ENV,
    REPO,
    emit_json,
    median,
    percentile,
    prepare_env,
    print_header,
    table,
    verdict,
)

PAGE = os.sysconf("SC_PAGE_SIZE")
VARIANTS = {
    "1k": ["shared", "per_job"],
    "10k": ["shared", "per_job"],
    "creates": ["limited"],
    "sweep": ["shared", "per_job"],
}
#: the ``sweep`` scenario: waits held in PROCESSING, 5 s interval, requests per interval measured
SWEEP_SIZES = (10, 30, 100, 300, 1000)
SWEEP_INTERVAL = 5.0


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


# ------------------------------------------------------------------------------ waits
def plan(n: int, launch_at: float, users: int, hold: bool) -> list[dict[str, Any]]:
    """Seeded jobs: each finishes at a known instant between 20 s and 320 s (or is held)."""
    from metastudio_emulator import lifecycle

    def timeline(outcome: str) -> float:
        return sum(step.duration or 0.0 for step in lifecycle.build_timeline("BASIC", outcome))

    jobs = []
    for i in range(n):
        failed = i % 10 == 9
        outcome = "PROCESSING" if hold else ("FAILED" if failed else "SUCCEED")
        terminal_at = launch_at + 20 + 300 * ((i * 7919) % n) / max(1, n - 1)
        user = f"user-{i % users}" if users > 1 else None
        fields: dict[str, Any] = {
            "job_id": f"bench-{i:05d}",
            "job_type": "BASIC",
            "voice_name": f"voice-{i}",
            "outcome": "fail" if failed and not hold else outcome,
            "commit_time": time.time() if hold else terminal_at - timeline(outcome),
        }
        if user:
            fields["app_user_id"] = user
        if not hold and not failed:
            fields["asset_id"] = f"asset-{i:05d}"
        jobs.append(
            {
                "job_id": fields["job_id"],
                "user": user,
                "outcome": outcome,
                "at": terminal_at,
                "fields": fields,
            }
        )
    return jobs


def wrong_event(job: dict[str, Any], event: dict[str, Any] | None) -> bool:
    if event is None:
        return True
    got = event.get("job") or {}
    if job["outcome"] == "SUCCEED":
        return not (event["status"] == "success" and got.get("asset_id") == job["fields"].get("asset_id"))
    return not (event["status"] == "failed" and (event.get("failure") or {}).get("job_failed_code"))


async def drive(
    jobs: list[dict[str, Any]],
    interval: float,
    shared: bool,
    launch_at: float,
    emu: Any,
    settle: float | None,
    sweep: bool = False,
) -> dict[str, Any]:
    """Run one trigger per job; with ``settle``, measure three intervals once that many seconds
    passed (every trigger subscribed and shown once) and then stop; with ``sweep`` too, three
    more intervals during the safety net's sweep."""
    from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger

    events: dict[str, tuple[float, dict[str, Any]]] = {}
    started: dict[str, float] = {}
    peak = [rss_bytes()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak[0] = max(peak[0], rss_bytes())

    async def one(index: int, job: dict[str, Any]) -> None:
        await asyncio.sleep(max(0.0, launch_at + interval * index / len(jobs) - time.time()))
        started[job["job_id"]] = time.time()
        trigger = VoiceTrainingJobTrigger(
            job_id=job["job_id"], poll_interval=interval, app_user_id=job["user"], shared_polling=shared
        )
        async for event in trigger.run():
            events[job["job_id"]] = (time.time(), event.payload)

    threading.Thread(target=sample, daemon=True).start()
    await asyncio.sleep(max(0.0, launch_at - time.time()))
    rss_before, cpu_before, wall_before = rss_bytes(), time.process_time(), time.time()
    tasks = [asyncio.ensure_future(one(i, j)) for i, j in enumerate(jobs)]
    window: dict[str, float] = {}
    if settle is not None:
        await asyncio.sleep(settle)  # start-up: every trigger subscribed and shown once
        stats_before = await asyncio.to_thread(emu.control.stats)
        cpu, wall = time.process_time(), time.time()
        await asyncio.sleep(3 * interval)
        stats_after = await asyncio.to_thread(emu.control.stats)
        window = {
            "cpu_share": (time.process_time() - cpu) / (time.time() - wall),
            "requests_per_interval": (stats_after["requests_total"] - stats_before["requests_total"]) / 3,
        }
        if shared and sweep:
            # The safety net's first sweep is due 5,000 s after start-up: back-date every
            # subscription's last direct show so that the sweep runs now, at its real pace.
            from airflow_provider_voicetraining.triggers import _shared_polling as shared_polling

            for poller in shared_polling._POLLERS[asyncio.get_running_loop()].values():
                for subscriptions in poller.subscriptions.values():
                    for subscription in subscriptions:
                        subscription.last_direct -= 1e6
            await asyncio.sleep(interval)  # each poller's next cycle starts its sweep
            stats_before = await asyncio.to_thread(emu.control.stats)
            cpu, wall = time.process_time(), time.time()
            await asyncio.sleep(3 * interval)
            stats_after = await asyncio.to_thread(emu.control.stats)
            window["sweep_cpu_share"] = (time.process_time() - cpu) / (time.time() - wall)
            window["sweep_requests_per_interval"] = (
                stats_after["requests_total"] - stats_before["requests_total"]
            ) / 3
        for task in tasks:
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stop.set()
    return {
        "events": events,
        "started": started,
        "rss_growth_mb": (max(peak[0], rss_bytes()) - rss_before) / 1e6,
        "cpu_seconds": time.process_time() - cpu_before,
        "wall_seconds": time.time() - wall_before,
        **window,
    }


def run_waits(scenario: str, variant: str) -> dict[str, Any]:
    prepare_env()
    import airflow.sdk  # noqa: F401

    import airflow_provider_voicetraining.hooks.voice_training
    import airflow_provider_voicetraining.triggers.voice_training  # noqa: F401
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    big = scenario == "10k"
    n, interval = (10_000, 60.0) if big else (1000, 5.0)
    launch_at = time.time() + (40 if big else 8)
    jobs = plan(n, launch_at, users=10 if big else 1, hold=big)
    config = EmulatorConfig(tls=True, seed=1, seed_jobs=[j["fields"] for j in jobs])
    with spawn_emulator_process(config) as emu:
        extra: dict[str, Any] = {}
        if variant == "per_job":
            extra["rate_limit_queries"] = 0  # per-job polling needs more than any region's quota
        elif big:
            extra["rate_limit_queries"] = 200  # a tenant with a raised quota
        os.environ[CONN_ENV] = emu.connection_json(**extra)
        before = emu.control.stats()
        shared = variant != "per_job"
        measured = asyncio.run(drive(jobs, interval, shared, launch_at, emu, 120.0 if big else None, big))
        after = emu.control.stats()
    events, started = measured.pop("events"), measured.pop("started")
    result: dict[str, Any] = {
        "scenario": scenario,
        "variant": variant,
        "jobs": n,
        "interval": interval,
        **measured,
    }
    result["requests_total"] = after["requests_total"] - before["requests_total"]
    result["connections"] = after["connections"] - before["connections"]
    result["emulator_cpu_seconds"] = after["cpu_seconds"] - before["cpu_seconds"]
    result["requests_by_route"] = {route: sum(v.values()) for route, v in after["requests"].items()}
    if not big:
        delays = [events[j["job_id"]][0] - j["at"] for j in jobs if j["job_id"] in events]
        waited = sum(events[j][0] - started[j] for j in events) / interval
        result.update(
            events_correct=sum(not wrong_event(j, events.get(j["job_id"], (0.0, None))[1]) for j in jobs),
            requests_per_job_interval=result["requests_total"] / max(1.0, waited),
            delay_median=median(delays),
            delay_p99=percentile(delays, 99),
            delay_max=max(delays, default=float("nan")),
        )
    return result


def run_sweep(_: str, variant: str) -> dict[str, Any]:
    """Requests per interval against the number of waits, each size on a fresh emulator."""
    prepare_env()
    import airflow.sdk  # noqa: F401

    import airflow_provider_voicetraining.hooks.voice_training
    import airflow_provider_voicetraining.triggers.voice_training  # noqa: F401
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    points = []
    for n in SWEEP_SIZES:
        launch_at = time.time() + 8
        jobs = plan(n, launch_at, users=1, hold=True)
        config = EmulatorConfig(tls=True, seed=1, seed_jobs=[j["fields"] for j in jobs])
        with spawn_emulator_process(config) as emu:
            extra = {"rate_limit_queries": 0} if variant == "per_job" else {}
            os.environ[CONN_ENV] = emu.connection_json(**extra)
            settle = 3 * SWEEP_INTERVAL  # starts spread over one interval, then a first look
            measured = asyncio.run(drive(jobs, SWEEP_INTERVAL, variant != "per_job", launch_at, emu, settle))
        points.append(
            {
                "waits": n,
                "requests_per_interval": measured["requests_per_interval"],
                "cpu_share": measured["cpu_share"],
            }
        )
    return {"scenario": "sweep", "variant": variant, "interval": SWEEP_INTERVAL, "points": points}


# ------------------------------------------------------------------------------ creates
def run_creates(_: str, __: str) -> dict[str, Any]:
    prepare_env()
    from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator
    from airflow_provider_voicetraining.packages import make_synthetic_package
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    class TI:
        """The first try of an unmapped task: who it is, and a sink for its XComs."""

        def __init__(self, task_id: str) -> None:
            self.dag_id, self.task_id, self.run_id = "bench_creates", task_id, "bench"
            self.map_index, self.try_number, self.max_tries = -1, 1, 0

        def xcom_push(self, key: str, value: Any) -> None:
            pass

        def xcom_pull(self, task_ids: Any = None, key: str = "return_value", map_indexes: Any = None) -> Any:
            return None

    package = make_synthetic_package(Path(tempfile.mkdtemp()) / "p.zip", "basic", seconds=0.01)
    # a tenant that bought enough trainings for the fan-out (the default is 100 per edition)
    config = EmulatorConfig(
        seed=1, region="cn-east-3", api_rate_limits=True, time_scale=0.01, quota_per_edition=1000
    )
    with spawn_emulator_process(config) as emu:
        os.environ[CONN_ENV] = emu.connection_json(region="cn-east-3")

        def create(i: int) -> str:
            op = CreateVoiceTrainingJobOperator(
                task_id=f"create_{i}", edition="basic", voice_name=f"mapped-{i}", training_package=package
            )
            try:
                op.execute({"ti": TI(op.task_id)})  # type: ignore[arg-type]
                return "ok"
            except Exception as exc:
                return type(exc).__name__

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(create, range(500)))
        elapsed = time.monotonic() - started
        log = emu.control.requests(route="create_basic_job")
        commits = emu.control.requests(route="commit_job")
    return {
        "scenario": "creates",
        "variant": "limited",
        "tasks": len(outcomes),
        "failed": len(outcomes) - outcomes.count("ok"),
        "errors": sorted({o for o in outcomes if o != "ok"}),
        "create_429": sum(1 for r in log if r["status"] == 429),
        "commit_429": sum(1 for r in commits if r["status"] == 429),
        "seconds": elapsed,
        "creates_per_second": outcomes.count("ok") / elapsed,
    }


# ------------------------------------------------------------------------------ parent
def run_child(scenario: str, variant: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.polling_at_scale", "--child", f"{scenario}:{variant}"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, check=False)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(
                f"{scenario}/{variant} failed:\n{err.read().decode('utf-8', 'replace')[-4000:]}"
            )
    return json.loads(proc.stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


def report(scenario: str, runs: dict[str, dict[str, Any]]) -> list[list[Any]]:
    names = list(runs)
    if scenario == "creates":
        r = runs["limited"]
        print(
            table(
                ["500 mapped creates, 16 threads, emulator at 3 creates/s", ""],
                [[k, v] for k, v in r.items()],
            )
        )
        return [
            [
                "no task fails from throttling",
                f"{r['failed']} failed ({r['create_429']} create 429s)",
                verdict(r["failed"] == 0),
            ],
            [
                "throughput >= 90 % of 3 creates/s",
                f"{r['creates_per_second']:.2f}/s",
                verdict(r["creates_per_second"] >= 2.7),
            ],
        ]
    if scenario == "sweep":
        rows = [
            [
                point["waits"],
                *(
                    next(p for p in runs[n]["points"] if p["waits"] == point["waits"])[
                        "requests_per_interval"
                    ]
                    for n in names
                ),
            ]
            for point in runs[names[0]]["points"]
        ]
        print(table([f"waits ({SWEEP_INTERVAL:.0f} s interval): requests per interval", *names], rows))
        return []
    keys = [k for k in runs[names[0]] if k not in ("scenario", "variant", "requests_by_route")]
    print(table(["", *names], [[k, *(runs[n].get(k) for n in names)] for k in keys]))
    print(
        table(
            ["requests by route", *names],
            [
                [route, *(runs[n]["requests_by_route"].get(route, 0) for n in names)]
                for route in sorted({r for n in names for r in runs[n]["requests_by_route"]})
            ],
        )
    )
    s = runs["shared"]
    if scenario == "10k":
        p = runs["per_job"]
        return [
            [
                "10k waits: client CPU <= 2 % of one core",
                f"{s['cpu_share']:.2%} between sweeps, {s['sweep_cpu_share']:.2%} during the safety "
                f"net's sweep (per-job {p['cpu_share']:.1%})",
                verdict(max(s["cpu_share"], s["sweep_cpu_share"]) <= 0.02),
            ],
            [
                "10k waits: RSS growth <= 300 MB",
                f"{s['rss_growth_mb']:.0f} MB",
                verdict(s["rss_growth_mb"] <= 300),
            ],
            [
                "10k waits: requests per 60 s interval",
                f"{s['requests_per_interval']:.0f} between sweeps, {s['sweep_requests_per_interval']:.0f} "
                f"during one (per-job {p['requests_per_interval']:.0f})",
                "-",
            ],
        ]
    per_job = f" (per-job {runs['per_job']['requests_per_job_interval']:.3f})" if "per_job" in runs else ""
    return [
        [
            "1k waits: requests per job per interval <= 0.05",
            f"{s['requests_per_job_interval']:.4f}{per_job}",
            verdict(s["requests_per_job_interval"] <= 0.05),
        ],
        [
            "1k waits: detection delay <= interval + 2 s",
            f"median {s['delay_median']:.2f} s, p99 {s['delay_p99']:.2f} s, max {s['delay_max']:.2f} s",
            verdict(s["delay_max"] <= 7.0),
        ],
        [
            "1k waits: every event correct",
            f"{s['events_correct']} / {s['jobs']}",
            verdict(s["events_correct"] == s["jobs"]),
        ],
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.polling_at_scale", description=__doc__)
    parser.add_argument("--scenarios", default="1k,10k,creates")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--variants", help="run only these variants (e.g. shared); default: all")
    args = parser.parse_args(argv)
    only = {v.strip() for v in args.variants.split(",")} if args.variants else None
    if args.child:
        scenario, variant = args.child.split(":")
        runner = {"creates": run_creates, "sweep": run_sweep}.get(scenario, run_waits)
        sys.stdout.write(json.dumps(runner(scenario, variant), default=str) + "\n")
        return
    prepare_env()
    print_header("Polling at scale", __doc__.split("\n\n")[1] if __doc__ else "")
    results: dict[str, Any] = {}
    targets: list[list[Any]] = []
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        runs = {}
        for variant in [v for v in VARIANTS[scenario] if only is None or v in only]:
            print(f"running {scenario} / {variant} ...", flush=True)
            runs[variant] = run_child(scenario, variant)
        print(f"\n### {scenario}\n")
        targets += report(scenario, runs)
        results[scenario] = runs
    print(table(["target", "measured", "verdict"], targets))
    emit_json(args.json, results)


if __name__ == "__main__":
    main()
