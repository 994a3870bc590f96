"""Waiting at scale: 1,000 deferred waits in one event loop.

What runs
---------
* The emulator in **its own process**, over **TLS** (generated CA), plain defaults otherwise.
* 1,000 jobs seeded at emulator start as *lifecycle* jobs with staggered commit times
  (``commit_time`` = planned terminal time - the timeline length), so each job walks
  ``SYSTEM_AUDITING -> AUDITING -> WAITING -> PROCESSING [-> UPLOADING]`` and reaches its
  terminal state at a known instant, spread evenly between ``--min-finish`` and
  ``--max-finish`` seconds after the waits start. Every 10th job ends ``FAILED``, the others
  ``SUCCEED`` with a known ``asset_id``. The emulator derives states from the clock, so no
  controller thread runs in the client process and disturbs its CPU figures.
* 1,000 real ``VoiceTrainingJobTrigger(...).run()`` async generators in one asyncio event
  loop, each driven like the triggerer does (``async for event in trigger.run()``), with
  ``poll_interval=10``. The connection comes from ``AIRFLOW_CONN_METASTUDIO_DEFAULT``.
  Two scenarios: **spread**, the steady state of a busy triggerer, where deferrals arrived
  over time (starts spread evenly over the first interval, so polls are spread too), and
  **burst**, a triggerer that starts or takes over 1,000 triggers at once (all start in the
  same instant and poll in step: 1,000 requests at a time, every interval).
Each variant runs in a fresh child process (clean RSS and CPU figures) against a fresh
emulator (connection counts start at zero).

Figures: client CPU seconds (``time.process_time()`` of the client process, from the first
trigger start to the last event) per poll; RSS before, peak and growth; TCP/TLS connections
opened (emulator ``stats()["connections"]``: distinct client ``(ip, port)`` pairs); HTTP
requests per job and per poll; detection delay (event time - the job's terminal instant);
event-loop lag (a 100 ms ticker); emulator CPU per request. Both processes share the 2 cores.

Run: ``python -m benchmarks.wait_at_scale [--scenarios spread,burst]
[--jobs N] [--interval S]`` (about 85 s per scenario and variant).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
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

FAILED_EVERY = 10
#: wall time of each poll (request to decoded job), both variants
POLL_SECONDS: list[float] = []
STARTUP_BUDGET = 6.0
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------------------------- the plan
def plan_jobs(n: int, launch_at: float, min_finish: float, max_finish: float) -> list[dict[str, Any]]:
    """Job specs: id, outcome, terminal instant, commit time, asset id."""
    from metastudio_emulator import lifecycle

    def timeline_seconds(outcome: str) -> float:
        return sum(step.duration or 0.0 for step in lifecycle.build_timeline("BASIC", outcome))

    rng = random.Random(7)
    finishes = [min_finish + (max_finish - min_finish) * i / max(1, n - 1) for i in range(n)]
    rng.shuffle(finishes)  # terminal order unrelated to start order
    jobs = []
    for i, offset in enumerate(finishes):
        failed = i % FAILED_EVERY == FAILED_EVERY - 1
        outcome = "FAILED" if failed else "SUCCEED"
        terminal_at = launch_at + offset
        jobs.append(
            {
                "job_id": f"bench-wait-{i:05d}",
                "outcome": outcome,
                "terminal_at": terminal_at,
                "commit_time": terminal_at - timeline_seconds(outcome),
                "asset_id": None if failed else f"asset-{i:05d}",
            }
        )
    return jobs


def seed_fields(job: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "job_id": job["job_id"],
        "job_type": "BASIC",
        "voice_name": f"voice-{job['job_id']}",
        "commit_time": job["commit_time"],
        "outcome": "fail" if job["outcome"] == "FAILED" else "SUCCEED",
    }
    if job["asset_id"]:
        fields["asset_id"] = job["asset_id"]
    return fields


# ---------------------------------------------------------------------------------- one variant
def check_event(job: dict[str, Any], events: list[dict[str, Any]]) -> str | None:
    """None if the events are exactly the one correct event for ``job``, else what is wrong."""
    if len(events) != 1:
        return f"{len(events)} events"
    event = events[0]
    if event.get("job_id") != job["job_id"]:
        return f"job_id {event.get('job_id')}"
    got = event.get("job") or {}
    if job["outcome"] == "SUCCEED":
        if event["status"] != "success" or got.get("state") != "SUCCEED":
            return f"status {event['status']} state {got.get('state')}"
        if got.get("asset_id") != job["asset_id"]:
            return f"asset_id {got.get('asset_id')} != {job['asset_id']}"
    else:
        failure = event.get("failure") or {}
        if event["status"] != "failed" or got.get("state") != "FAILED":
            return f"status {event['status']} state {got.get('state')}"
        if not failure.get("job_failed_code") or failure.get("state") != "FAILED":
            return f"failure details {failure}"
    return None


async def _drive(
    variant: str, jobs: list[dict[str, Any]], interval: float, launch_at: float, stagger: float
) -> dict[str, Any]:
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
    from airflow_provider_voicetraining.triggers.voice_training import VoiceTrainingJobTrigger

    polls: dict[str, int] = {}
    original = VoiceTrainingHook.aget_job

    async def counting_aget_job(self: Any, job_id: str, **kwargs: Any) -> Any:
        polls[job_id] = polls.get(job_id, 0) + 1
        started = time.perf_counter()
        try:
            return await original(self, job_id, **kwargs)
        finally:
            POLL_SECONDS.append(time.perf_counter() - started)

    VoiceTrainingHook.aget_job = counting_aget_job  # type: ignore[method-assign]

    n = len(jobs)
    triggers = [VoiceTrainingJobTrigger(job_id=j["job_id"], poll_interval=interval) for j in jobs]
    results: dict[str, list[tuple[float, dict[str, Any]]]] = {}
    peak_rss = rss_bytes()
    lags: list[float] = []
    done = asyncio.Event()

    async def sampler() -> None:
        nonlocal peak_rss
        tick = 0.1
        expected = time.monotonic() + tick
        while not done.is_set():
            await asyncio.sleep(max(0.0, expected - time.monotonic()))
            lags.append(max(0.0, time.monotonic() - expected))
            expected += tick
            peak_rss = max(peak_rss, rss_bytes())

    async def run_one(index: int, trigger: Any) -> None:
        await asyncio.sleep(max(0.0, launch_at + stagger * index / n - time.time()))
        trigger.started_at = time.time()
        events = results.setdefault(trigger.job_id, [])
        async for event in trigger.run():
            events.append((time.time(), event.payload))

    await asyncio.sleep(max(0.0, launch_at - time.time()))
    rss_before = rss_bytes()
    cpu_before = time.process_time()
    wall_before = time.time()
    sampler_task = asyncio.create_task(sampler())
    await asyncio.gather(*(run_one(i, t) for i, t in enumerate(triggers)))
    cpu_after = time.process_time()
    wall_after = time.time()
    done.set()
    await sampler_task
    return {
        "results": results,
        "polls": polls,
        "rss_before": rss_before,
        "rss_peak": max(peak_rss, rss_bytes()),
        "rss_after": rss_bytes(),
        "cpu_seconds": cpu_after - cpu_before,
        "wall_seconds": wall_after - wall_before,
        "poll_ms_median": median(POLL_SECONDS) * 1000,
        "poll_ms_p99": percentile(POLL_SECONDS, 99) * 1000,
        "poll_ms_max": max(POLL_SECONDS, default=0.0) * 1000,
        "loop_lag_p99_ms": percentile(lags, 99) * 1000,
        "loop_lag_max_ms": max(lags) * 1000 if lags else 0.0,
    }


def run_child(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    prepare_env()
    # Import everything a triggerer has loaded before the waits start.
    import airflow.sdk  # noqa: F401
    import httpx  # noqa: F401

    import airflow_provider_voicetraining.hooks.voice_training
    import airflow_provider_voicetraining.triggers.voice_training  # noqa: F401
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    launch_at = time.time() + STARTUP_BUDGET
    jobs = plan_jobs(args.jobs, launch_at, args.min_finish, args.max_finish)
    config = EmulatorConfig(tls=True, seed=1, seed_jobs=[seed_fields(j) for j in jobs])
    with spawn_emulator_process(config) as emu:
        os.environ[CONN_ENV] = emu.connection_json()
        late = time.time() - launch_at
        before = emu.control.stats()
        stagger = args.interval if args.stagger is None else args.stagger
        measured = asyncio.run(_drive(variant, jobs, args.interval, launch_at, stagger))
        after = emu.control.stats()
        log = emu.control.requests(route="show_job")

    per_job_requests: dict[str, int] = {}
    for entry in log:
        job_id = entry["path"].rsplit("/", 1)[1]
        per_job_requests[job_id] = per_job_requests.get(job_id, 0) + 1
    results = measured.pop("results")
    polls = measured.pop("polls")
    wrong: list[str] = []
    delays: list[float] = []
    for job in jobs:
        events = results.get(job["job_id"], [])
        problem = check_event(job, [e for _, e in events])
        if problem:
            wrong.append(f"{job['job_id']}: {problem}")
        if events:
            delays.append(events[0][0] - job["terminal_at"])
    requests_total = after["requests_total"] - before["requests_total"]
    total_polls = sum(polls.values())
    return {
        "variant": variant,
        "jobs": len(jobs),
        "interval": args.interval,
        "launch_late_seconds": late,
        "events_correct": len(jobs) - len(wrong),
        "wrong": wrong[:10],
        "polls": total_polls,
        "requests_total": requests_total,
        "show_job_requests": len(log),
        "requests_per_job_mean": requests_total / len(jobs),
        "requests_per_job_max": max(per_job_requests.values()) if per_job_requests else 0,
        "requests_per_poll": requests_total / max(1, total_polls),
        "polls_equal_requests_per_job": all(per_job_requests.get(j, 0) == c for j, c in polls.items()),
        "connections_before": before["connections"],
        "connections_after": after["connections"],
        "emulator_cpu_seconds": after["cpu_seconds"] - before["cpu_seconds"],
        "delay_median": median(delays),
        "delay_p90": percentile(delays, 90),
        "delay_max": max(delays) if delays else float("nan"),
        "delays_over_interval": sum(1 for d in delays if d > args.interval),
        "delay_min": min(delays) if delays else float("nan"),
        **measured,
    }


# ---------------------------------------------------------------------------------- parent
def run_variant(variant: str, args: argparse.Namespace, stagger: float) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.wait_at_scale",
        "--child",
        variant,
        "--jobs",
        str(args.jobs),
        "--interval",
        str(args.interval),
        "--min-finish",
        str(args.min_finish),
        "--max-finish",
        str(args.max_finish),
        "--stagger",
        str(stagger),
    ]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=err, check=False)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-4000:]
            raise RuntimeError(f"{variant} run failed ({proc.returncode}):\n{tail}")
    lines = proc.stdout.decode().strip().splitlines()
    result: dict[str, Any] = json.loads(lines[-1])
    result["client_log_lines"] = len(lines) - 1  # the triggers' state-change log lines
    result["stagger"] = stagger
    return result


def report(runs: dict[str, dict[str, Any]], interval: float, burst: bool = False) -> None:
    from airflow_provider_voicetraining.wire.async_pool import POOL_SIZE

    names = list(runs)

    def row(label: str, fn: Any) -> list[Any]:
        return [label, *(fn(runs[n]) for n in names)]

    mib = 1024 * 1024
    rows = [
        row("jobs / poll interval", lambda r: f"{r['jobs']} / {r['interval']:.0f} s"),
        row("wall time (first start -> last event)", lambda r: f"{r['wall_seconds']:.1f} s"),
        row("state-change log lines (INFO)", lambda r: f"{r['client_log_lines']:,}"),
        row("events correct", lambda r: f"{r['events_correct']} / {r['jobs']}"),
        row("polls (client) / HTTP requests (emulator)", lambda r: f"{r['polls']} / {r['requests_total']}"),
        row("HTTP requests per poll", lambda r: f"{r['requests_per_poll']:.3f}"),
        row(
            "requests per job (mean / max)",
            lambda r: f"{r['requests_per_job_mean']:.2f} / {r['requests_per_job_max']}",
        ),
        row(
            "TCP+TLS connections opened",
            lambda r: f"{r['connections_after'] - r['connections_before']:,}",
        ),
        row("client CPU total", lambda r: f"{r['cpu_seconds']:.2f} s"),
        row("client CPU per poll", lambda r: f"{r['cpu_seconds'] / max(1, r['polls']) * 1e3:.3f} ms"),
        row(
            "emulator CPU total (share of one core)",
            lambda r: (
                f"{r['emulator_cpu_seconds']:.2f} s ({r['emulator_cpu_seconds'] / r['wall_seconds']:.0%})"
            ),
        ),
        row(
            "emulator CPU per request",
            lambda r: f"{r['emulator_cpu_seconds'] / max(1, r['requests_total']) * 1e3:.3f} ms",
        ),
        row("RSS before waits", lambda r: f"{r['rss_before'] / mib:.0f} MiB"),
        row("RSS peak", lambda r: f"{r['rss_peak'] / mib:.0f} MiB"),
        row("RSS growth (peak - before)", lambda r: f"{(r['rss_peak'] - r['rss_before']) / mib:.1f} MiB"),
        row(
            "detection delay median / p90 / max",
            lambda r: f"{r['delay_median']:.2f} / {r['delay_p90']:.2f} / {r['delay_max']:.3f} s",
        ),
        row(
            "poll round trip median / p99 / max",
            lambda r: f"{r['poll_ms_median']:.1f} / {r['poll_ms_p99']:.1f} / {r['poll_ms_max']:.0f} ms",
        ),
        row(
            "jobs detected later than one interval",
            lambda r: f"{r['delays_over_interval']} (max {r['delay_max'] - r['interval']:+.3f} s)",
        ),
        row(
            "event-loop lag p99 / max",
            lambda r: f"{r['loop_lag_p99_ms']:.1f} / {r['loop_lag_max_ms']:.1f} ms",
        ),
    ]
    print(table(["", *names], rows))

    p = runs.get("provider")
    if p is None:
        return
    connections = p["connections_after"] - p["connections_before"]
    targets = [
        [
            f"connections opened <= pool size ({POOL_SIZE}), not growing with polls",
            f"{connections} connections for {p['polls']} polls",
            verdict(connections <= POOL_SIZE),
        ],
        [
            "RSS growth <= 100 MB",
            f"{(p['rss_peak'] - p['rss_before']) / 1e6:.1f} MB",
            verdict(p["rss_peak"] - p["rss_before"] <= 100e6),
        ],
        [
            "every event correct (one event per trigger)",
            f"{p['events_correct']} / {p['jobs']}",
            verdict(p["events_correct"] == p["jobs"]),
        ],
        [
            f"detection delay <= one interval ({interval:.0f} s)",
            f"max {p['delay_max']:.3f} s (median {p['delay_median']:.2f} s)",
            verdict(p["delay_max"] <= interval),
        ]
        if not burst
        else [
            # 1,000 polls sent in the same instant are answered over the time it takes to drain
            # them: the last answer comes that much later, and so does its detection.
            f"detection delay <= one interval ({interval:.0f} s) + the time to drain a burst "
            "(the longest poll round trip)",
            f"max {p['delay_max']:.3f} s (median {p['delay_median']:.2f} s; "
            f"longest round trip {p['poll_ms_max'] / 1000:.3f} s)",
            verdict(p["delay_max"] <= interval + p["poll_ms_max"] / 1000),
        ],
        [
            "one HTTP request per poll",
            f"{p['requests_per_poll']:.3f}",
            verdict(p["requests_total"] == p["polls"] and p["polls_equal_requests_per_job"]),
        ],
    ]
    print(table(["target (provider trigger)", "measured", "verdict"], targets))
    for name in names:
        if runs[name]["wrong"]:
            print(f"{name}: wrong events (first 10): {runs[name]['wrong']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wait_at_scale", description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0, help="poll interval (default 10 s)")
    parser.add_argument("--min-finish", type=float, default=10.0, help="first job ends after this (s)")
    parser.add_argument("--max-finish", type=float, default=60.0, help="last job ends after this (s)")
    parser.add_argument(
        "--scenarios",
        default="spread,burst",
        help="spread (starts spread over one interval) and/or burst (all at once); default both",
    )
    parser.add_argument(
        "--stagger", type=float, default=None, help="custom scenario: spread starts over this many seconds"
    )
    parser.add_argument("--variants", default="provider")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.child:
        result = run_child(args.child, args)
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return
    scenarios = {"spread": args.interval, "burst": 0.0}
    if args.stagger is not None:
        chosen = {f"starts over {args.stagger:g} s": args.stagger}
    else:
        names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        unknown = [n for n in names if n not in scenarios]
        if unknown:
            parser.error(f"unknown scenario(s) {unknown}; use spread and/or burst")
        chosen = {n: scenarios[n] for n in names}
    prepare_env()
    print_header(
        "Waiting at scale: 1,000 deferred waits in one event loop",
        f"{args.jobs} VoiceTrainingJobTrigger.run() coroutines, poll interval {args.interval:.0f} s, "
        f"jobs ending {args.min_finish:.0f}-{args.max_finish:.0f} s after the start (every 10th FAILED); "
        "emulator over TLS in its own process; each variant in a fresh client process against a fresh "
        "emulator. Scenarios: " + ", ".join(f"{n} (starts over {st:g} s)" for n, st in chosen.items()) + ".",
    )
    results: dict[str, dict[str, Any]] = {}
    for scenario, stagger in chosen.items():
        runs = {}
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            print(f"running {scenario} / {variant} ...", flush=True)
            runs[variant] = run_variant(variant, args, stagger)
        print(f"\n### Scenario: {scenario} (trigger starts spread over {stagger:g} s)\n")
        report(runs, args.interval, burst=stagger == 0)
        results[scenario] = runs
    emit_json(args.json, results)


if __name__ == "__main__":
    main()
