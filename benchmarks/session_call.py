"""Per call: a GET through ``hook.get_conn()`` vs a bare ``requests`` GET, interleaved, one run.

Four clients fetch the same asset (``ShowAsset``) from the emulator (its own process, plain HTTP,
keep-alive):

* **get_conn() AK/SK**: ``hook.get_conn().get(path)``: relative path, default timeout, the
  query canonicalized, a fresh ``X-Sdk-Date`` and an ``SDK-HMAC-SHA256`` signature per request;
* **get_conn() IAM token**: the same with ``auth_type=password`` (the cached token added);
* **MetaStudioAuth on a plain Session**: ``requests.Session()`` with ``auth=MetaStudioAuth(...)``
  (AK/SK), absolute URL: the auth without the hook's session class;
* **bare requests**: ``requests.Session().get(url, headers=...)`` with headers signed once in
  advance (fixed ``X-Sdk-Date``): the floor for a Python client.

Every client reads the body and checks the status; nothing is decoded. Calls are interleaved
round-robin (the starting client rotates every round) after a warm-up, so drift of the machine
or the emulator affects all alike. Wall time per call is ``perf_counter``; client CPU per call
``thread_time``. Also timed without any socket: the auth alone on a prepared request (AK/SK).

Run: ``python -m benchmarks.session_call [--iterations N] [--warmup N] [--json PATH]``.
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
)

ASSET_ID = "bench-session-asset"
TOKEN_CONN_ENV = "AIRFLOW_CONN_METASTUDIO_TOKEN"
BARE = "bare requests (pre-signed)"


def build_clients(emu: Any) -> tuple[dict[str, Callable[[], Any]], list[Any]]:
    import requests

    from airflow_provider_voicetraining._wire import signing
    from airflow_provider_voicetraining._wire.request_flow import USER_AGENT
    from airflow_provider_voicetraining.auth import MetaStudioAuth
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    cfg = emu.config
    path = f"/v1/{cfg.project_id}/digital-assets/{ASSET_ID}"
    aksk_hook, token_hook = VoiceTrainingHook(), VoiceTrainingHook("metastudio_token")
    aksk_session, token_session = aksk_hook.get_conn(), token_hook.get_conn()
    plain = requests.Session()
    plain.auth = MetaStudioAuth(
        cfg.project_id, access_key=cfg.access_key, secret_key=cfg.secret_key, endpoint=emu.url
    )
    bare = requests.Session()
    host = emu.url.split("://", 1)[1]
    headers = signing.sign(
        method="GET",
        path=path,
        query="",
        headers={"User-Agent": USER_AGENT, "X-Project-Id": cfg.project_id},
        body=None,
        host=host,
        access_key=cfg.access_key,
        secret_key=cfg.secret_key,
    )

    def check(response: Any) -> Any:
        assert response.status_code == 200, response.status_code
        return response.content

    clients = {
        "get_conn() AK/SK": lambda: check(aksk_session.get(path)),
        "get_conn() IAM token": lambda: check(token_session.get(path)),
        "MetaStudioAuth, plain Session": lambda: check(plain.get(emu.url + path, timeout=(10, 30))),
        BARE: lambda: check(bare.get(emu.url + path, headers=headers, timeout=(10, 30))),
    }
    return clients, [aksk_hook, token_hook, plain, bare]


def auth_alone(emu: Any, rounds: int) -> float:
    """Median µs of ``MetaStudioAuth`` signing one prepared GET (no socket)."""
    import requests

    from airflow_provider_voicetraining.auth import MetaStudioAuth

    cfg = emu.config
    auth = MetaStudioAuth(
        cfg.project_id, access_key=cfg.access_key, secret_key=cfg.secret_key, endpoint=emu.url
    )
    template = requests.Request("GET", f"{emu.url}/v1/{cfg.project_id}/digital-assets/{ASSET_ID}").prepare()
    samples = []
    for _ in range(rounds):
        prepared = template.copy()
        t0 = time.perf_counter_ns()
        auth(prepared)
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    return median(samples)


def run(iterations: int, warmup: int) -> dict[str, Any]:
    prepare_env()
    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    with spawn_emulator_process(EmulatorConfig(seed=1)) as emu:
        os.environ[CONN_ENV] = emu.connection_json()
        os.environ[TOKEN_CONN_ENV] = emu.connection_json("password")
        emu.control.seed_job(state="SUCCEED", asset_id=ASSET_ID)
        clients, closables = build_clients(emu)
        names = list(clients)
        before: dict[str, Any] = {}
        wall, cpu = interleaved(clients, iterations, warmup, lambda: before.update(emu.control.stats()))
        after = emu.control.stats()
        signing_us = auth_alone(emu, 5000)
        for item in closables:
            item.close()

    shows = after["requests"]["show_asset"].get("200", 0) - before["requests"]["show_asset"].get("200", 0)
    results: dict[str, Any] = {
        "iterations": iterations,
        "warmup": warmup,
        "clients": {},
        "auth_alone_median_us": signing_us,
        "requests_seen": shows,
        "requests_expected": iterations * len(names),
        "emulator_cpu_us_per_request": (after["cpu_seconds"] - before["cpu_seconds"]) * 1e6 / max(1, shows),
    }
    for name in names:
        results["clients"][name] = {
            "median_us": median(wall[name]),
            "p90_us": percentile(wall[name], 90),
            "p99_us": percentile(wall[name], 99),
            "cpu_median_us": median(cpu[name]),
        }
    return results


def report(results: dict[str, Any]) -> None:
    clients = results["clients"]
    bare = clients[BARE]
    rows = [
        [
            name,
            r["median_us"],
            r["p90_us"],
            r["p99_us"],
            r["cpu_median_us"],
            f"{r['median_us'] - bare['median_us']:+,.0f}",
            f"{r['median_us'] / bare['median_us']:.3f}x",
        ]
        for name, r in clients.items()
    ]
    headers = ["client", "median µs", "p90 µs", "p99 µs", "client CPU median µs", "vs bare µs", "vs bare"]
    print(table(headers, rows))
    print(
        f"{results['iterations']} interleaved rounds after {results['warmup']} warm-up rounds; "
        f"{results['requests_seen']} show_asset requests seen, {results['requests_expected']} expected; "
        f"emulator CPU {results['emulator_cpu_us_per_request']:.0f} µs per request (its own process).\n"
        f"MetaStudioAuth alone (AK/SK, one prepared GET, no socket): "
        f"{results['auth_alone_median_us']:.1f} µs median.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.session_call", description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000, help="measured rounds (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up rounds (default 200)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    print_header(
        "Per call: a GET through get_conn() vs a bare requests GET",
        "Emulator in its own process over keep-alive HTTP; the clients interleaved round-robin.",
    )
    results = run(args.iterations, args.warmup)
    report(results)
    emit_json(args.json, results)


if __name__ == "__main__":
    main()
