"""Per call: ``hook.get_job()`` vs a bare ``requests`` GET vs the official SDK, interleaved.

Three clients fetch the same job from the emulator (its own process, plain HTTP, keep-alive; the
hook's client-side rate limit off: this measures a call, not the region's quota):

* **hook**: ``VoiceTrainingHook.get_job(job_id)``: validation, signing with a fresh
  ``X-Sdk-Date``, the request flow and its time bounds, ``httpx`` on the calling thread's event
  loop, strict JSON decoding into a ``VoiceTrainingJob``;
* **bare requests**: ``requests.Session().get(url, headers=...)`` with headers signed once in
  advance (fixed ``X-Sdk-Date``), body read, nothing decoded: the floor for a Python client;
* **official SDK**: ``huaweicloudsdkmetastudio`` ``show_voice_training_job`` with
  ``BasicCredentials(ak, sk, project_id)`` and the emulator as endpoint.

Calls are interleaved round-robin (the starting client rotates every round) after a warm-up,
so drift of the machine or the emulator affects all three alike. Wall time per call is
``perf_counter``; client CPU per call is ``thread_time`` of the calling thread (the emulator's
CPU is reported separately from its own ``stats()``).

Run: ``python -m benchmarks.per_call [--iterations N] [--warmup N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import (
    CONN_ENV,
    emit_json,
    interleaved,
    median,
    percentile,
    prepare_env,
    print_header,
    table,
    verdict,
)

JOB_ID = "bench-per-call-0001"
TARGET_VS_BARE = 1.25
TARGET_VS_SDK = 0.8


def build_clients(emu: Any) -> dict[str, Callable[[], Any]]:
    import requests

    from airflow_provider_voicetraining._wire import endpoints as api
    from airflow_provider_voicetraining._wire.request_flow import build_request
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    hook = VoiceTrainingHook()

    def hook_call() -> Any:
        job = hook.get_job(JOB_ID)
        assert job.state == "SUCCEED", job.state
        return job

    # Pre-signed once (fixed X-Sdk-Date; the emulator accepts 15 minutes of skew).
    settings = hook.settings
    now = time.time()
    wire = build_request(api.show_job(settings, JOB_ID), settings, None, now, now + 60)
    session = requests.Session()
    url, headers = wire.url, dict(wire.headers)

    def bare_call() -> Any:
        response = session.get(url, headers=headers, timeout=(10, 30))
        assert response.status_code == 200, response.status_code
        return response.content

    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmetastudio.v1 import MetaStudioClient
    from huaweicloudsdkmetastudio.v1.model import ShowVoiceTrainingJobRequest

    cfg = emu.config
    client = (
        MetaStudioClient.new_builder()
        .with_credentials(BasicCredentials(cfg.access_key, cfg.secret_key, cfg.project_id))
        .with_endpoints([emu.url])
        .build()
    )

    def sdk_call() -> Any:
        shown = client.show_voice_training_job(ShowVoiceTrainingJobRequest(job_id=JOB_ID))
        assert shown.state == "SUCCEED", shown.state
        return shown

    return {"hook.get_job()": hook_call, "bare requests": bare_call, "official SDK": sdk_call}


def run(iterations: int, warmup: int) -> dict[str, Any]:
    prepare_env()
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    with spawn_emulator_process(EmulatorConfig(seed=1)) as emu:
        # the client-side rate limit off: this measures a call, not the region's quota
        os.environ[CONN_ENV] = emu.connection_json(rate_limit_queries=0)
        emu.control.seed_job(job_id=JOB_ID, state="SUCCEED", asset_id="asset-per-call")
        clients = build_clients(emu)
        names = list(clients)
        before: dict[str, Any] = {}
        wall, cpu = interleaved(clients, iterations, warmup, lambda: before.update(emu.control.stats()))
        after = emu.control.stats()

    shows = after["requests"]["show_job"].get("200", 0) - before["requests"]["show_job"].get("200", 0)
    emu_cpu_us = (after["cpu_seconds"] - before["cpu_seconds"]) * 1e6 / max(1, shows)
    results: dict[str, Any] = {"iterations": iterations, "warmup": warmup, "clients": {}}
    for name in names:
        results["clients"][name] = {
            "median_us": median(wall[name]),
            "p90_us": percentile(wall[name], 90),
            "p99_us": percentile(wall[name], 99),
            "mean_us": sum(wall[name]) / len(wall[name]),
            "cpu_median_us": median(cpu[name]),
            "cpu_mean_us": sum(cpu[name]) / len(cpu[name]),
        }
    results["emulator_cpu_us_per_request"] = emu_cpu_us
    results["requests_seen"] = shows
    results["requests_expected"] = iterations * len(names)
    return results


def report(results: dict[str, Any]) -> None:
    c = results["clients"]
    bare = c["bare requests"]
    sdk = c["official SDK"]
    rows = []
    for name, r in c.items():
        rows.append(
            [
                name,
                r["median_us"],
                r["p90_us"],
                r["p99_us"],
                r["cpu_median_us"],
                f"{r['median_us'] / bare['median_us']:.3f}x",
                f"{r['median_us'] / sdk['median_us']:.3f}x",
            ]
        )
    print(
        table(
            [
                "client",
                "median µs",
                "p90 µs",
                "p99 µs",
                "client CPU median µs",
                "median vs bare",
                "median vs SDK",
            ],
            rows,
        )
    )
    print(
        f"{results['iterations']} interleaved rounds after {results['warmup']} warm-up rounds; "
        f"emulator CPU {results['emulator_cpu_us_per_request']:.0f} µs per request "
        f"(its own process; {results['requests_seen']} show_job requests seen, "
        f"{results['requests_expected']} expected: one HTTP request per call).\n"
    )
    hook = c["hook.get_job()"]
    ratio = hook["median_us"] / bare["median_us"]
    p90_ratio = hook["p90_us"] / bare["p90_us"]
    vs_sdk = hook["median_us"] / sdk["median_us"]
    print(
        table(
            ["target", "measured", "verdict"],
            [
                [
                    f"hook median <= {TARGET_VS_BARE}x bare requests",
                    f"{ratio:.3f}x (p90 {p90_ratio:.3f}x)",
                    verdict(ratio <= TARGET_VS_BARE),
                ],
                [
                    f"hook median <= {TARGET_VS_SDK}x the official SDK",
                    f"{hook['median_us']:.0f} µs vs {sdk['median_us']:.0f} µs ({vs_sdk:.2f}x)",
                    verdict(vs_sdk <= TARGET_VS_SDK),
                ],
                [
                    "one HTTP request per call",
                    f"{results['requests_seen']} / {results['requests_expected']}",
                    verdict(results["requests_seen"] == results["requests_expected"]),
                ],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.per_call", description=__doc__)
    parser.add_argument("--iterations", type=int, default=3000, help="measured rounds (default 3000)")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up rounds (default 300)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    print_header(
        "Per call: hook.get_job() vs bare requests vs official SDK",
        "Emulator in its own process over keep-alive HTTP; the three clients interleaved round-robin.",
    )
    results = run(args.iterations, args.warmup)
    report(results)
    emit_json(args.json, results)


if __name__ == "__main__":
    main()
