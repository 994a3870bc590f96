"""Import cost: what the provider's sensor, operator and trigger modules add to ``import airflow.sdk``.

DAG files import the sensor and operators on every parse, and the dag-processor parses them
again and again, so what the provider adds on top of Airflow is paid each time. Each run is a
fresh interpreter (``python -X importtime``) that first imports ``airflow.sdk`` (what any DAG
file does), then the three provider modules. Reported, as medians over the runs:

* **added self time**: the sum of ``-X importtime`` self-times of every module imported after
  ``airflow.sdk`` (i.e. not already loaded by it), the provider's own and any library they
  pull in;
* **added wall time**: ``time.perf_counter()`` around the three imports in a fresh process
  without ``-X importtime`` (its per-module bookkeeping inflates the first figure slightly);
* which heavy modules the import leaves unloaded (``requests``, the hook, the HTTP client).

Bytecode caches are on (a private ``PYTHONPYCACHEPREFIX``), as after ``pip install``; the
figure without them (every module compiled from source) is printed for information.

Run: ``python -m benchmarks.import_cost [--runs N] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from benchmarks._common import REPO, emit_json, median, prepare_env, print_header, table, verdict

MODULES = (
    "airflow_provider_voicetraining.sensors.voice_training",
    "airflow_provider_voicetraining.operators.voice_training",
    "airflow_provider_voicetraining.triggers.voice_training",
)
#: Must stay unloaded after importing the three modules: loaded on first use only.
DEFERRED = (
    "requests",
    "urllib3",
    "airflow_provider_voicetraining.hooks.voice_training",
    "airflow_provider_voicetraining._wire.transports",
    "airflow_provider_voicetraining._wire.request_flow",
    "airflow_provider_voicetraining._wire.signing",
    "airflow_provider_voicetraining._wire.settings",
)
TARGET_MS = 20.0

_WALL_SCRIPT = """
import json, sys, time
import airflow.sdk
before = set(sys.modules)
t0 = time.perf_counter()
{imports}
t1 = time.perf_counter()
added = sorted(set(sys.modules) - before)
print(json.dumps({{"wall_ms": (t1 - t0) * 1000, "added": added,
    "loaded_before": sorted(m for m in {deferred!r} if m in before)}}))
"""


def parse_importtime(stderr: str) -> list[tuple[str, int, bool]]:
    """``(module, self_us, top_level)`` of the modules imported after the top-level ``airflow.sdk``
    (lines come in completion order; a top-level line closes one ``import`` statement)."""
    lines = [line for line in stderr.splitlines() if line.startswith("import time:")]
    start = None
    for i, line in enumerate(lines):
        name = line.split("|", 2)[2]
        if name == " airflow.sdk":  # top level: one space, no indentation
            start = i + 1
    if start is None:
        raise RuntimeError("no top-level airflow.sdk line in -X importtime output")
    out = []
    for line in lines[start:]:
        self_us, _cumulative, name = line[len("import time:") :].split("|", 2)
        out.append((name.strip(), int(self_us), not name.startswith("  ")))
    return out


def dag_file_share(modules: list[tuple[str, int, bool]]) -> float:
    """Self time (ms) up to the end of the operators import: what a DAG file importing the
    sensor and the operators pays (the trigger module is loaded by the triggerer, and by a
    worker only when a task defers)."""
    total = 0
    for name, us, top_level in modules:
        total += us
        if top_level and name == MODULES[1]:
            break
    return total / 1000.0


def one_run(env: dict[str, str]) -> dict[str, Any]:
    imports = "; ".join(f"import {m}" for m in MODULES)
    timed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import airflow.sdk; {imports}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    modules = parse_importtime(timed.stderr)
    script = _WALL_SCRIPT.format(imports="\n".join(f"import {m}" for m in MODULES), deferred=DEFERRED)
    wall = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    data = json.loads(wall.stdout.strip().splitlines()[-1])
    return {
        "self_ms": sum(us for _, us, _ in modules) / 1000.0,
        "dag_file_self_ms": dag_file_share(modules),
        "modules": modules,
        "wall_ms": data["wall_ms"],
        "added": data["added"],
        "loaded_before": data["loaded_before"],
    }


def run(runs: int, cold: bool = False) -> dict[str, Any]:
    """``cold``: no bytecode cache, every module compiled from source on import (what a
    ``PYTHONDONTWRITEBYTECODE=1`` environment without ``.pyc`` files pays)."""
    sandbox = prepare_env()
    env = dict(os.environ)
    if cold:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = os.path.join(sandbox, "no-pycache")
    one_run(env)  # warm-up: bytecode cache written (unless cold), files in the page cache
    results = [one_run(env) for _ in range(runs)]
    per_module: dict[str, list[int]] = {}
    for r in results:
        for name, us, _ in r["modules"]:
            per_module.setdefault(name, []).append(us)
    added = results[-1]["added"]
    return {
        "runs": runs,
        "self_ms": [r["self_ms"] for r in results],
        "wall_ms": [r["wall_ms"] for r in results],
        "self_ms_median": median([r["self_ms"] for r in results]),
        "dag_file_self_ms_median": median([r["dag_file_self_ms"] for r in results]),
        "wall_ms_median": median([r["wall_ms"] for r in results]),
        "per_module_median_us": {k: median(v) for k, v in per_module.items()},
        "modules_added": added,
        "deferred_loaded": [m for m in DEFERRED if m in added],
        "deferred_loaded_by_airflow": results[-1]["loaded_before"],
    }


def report(results: dict[str, Any]) -> None:
    top = sorted(results["per_module_median_us"].items(), key=lambda kv: -kv[1])
    print(
        table(
            ["module imported after airflow.sdk", "self time (median µs)"],
            [[name, f"{us:,.0f}"] for name, us in top[:25]],
        )
    )
    print(
        f"{len(results['modules_added'])} modules added; {results['runs']} fresh interpreters per figure "
        f"(self: {', '.join(f'{v:.1f}' for v in results['self_ms'])} ms; "
        f"wall: {', '.join(f'{v:.1f}' for v in results['wall_ms'])} ms).\n"
    )
    deferred_ok = not results["deferred_loaded"]
    print(
        table(
            ["target", "measured", "verdict"],
            [
                [
                    f"added import time <= {TARGET_MS:.0f} ms (sum of self times, median)",
                    f"{results['self_ms_median']:.1f} ms",
                    verdict(results["self_ms_median"] <= TARGET_MS),
                ],
                [
                    "  of which sensor + operator modules (what DAG files import)",
                    f"{results['dag_file_self_ms_median']:.1f} ms",
                    "",
                ],
                [
                    f"added wall time <= {TARGET_MS:.0f} ms (perf_counter, median)",
                    f"{results['wall_ms_median']:.1f} ms",
                    verdict(results["wall_ms_median"] <= TARGET_MS),
                ],
                [
                    "requests, hook, HTTP clients, signing not imported",
                    "none loaded" if deferred_ok else "loaded: " + ", ".join(results["deferred_loaded"]),
                    verdict(deferred_ok),
                ],
            ],
        )
    )
    if results["deferred_loaded_by_airflow"]:
        print(f"(already loaded by airflow.sdk itself: {', '.join(results['deferred_loaded_by_airflow'])})\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.import_cost", description=__doc__)
    parser.add_argument("--runs", type=int, default=11, help="fresh interpreters per figure (default 11)")
    parser.add_argument(
        "--no-cold", dest="cold", action="store_false", help="skip the figure without bytecode caches"
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    print_header(
        "Import cost on top of airflow.sdk",
        "import airflow.sdk, then the sensor, operator and trigger modules, in fresh interpreters.",
    )
    results = run(args.runs)
    report(results)
    cold = run(max(3, args.runs // 2), cold=True) if args.cold else None
    if cold is not None:
        print(
            f"Without bytecode caches (PYTHONDONTWRITEBYTECODE=1, no .pyc: every module compiled on "
            f"import): added self time {cold['self_ms_median']:.1f} ms, wall {cold['wall_ms_median']:.1f} ms "
            f"(median of {cold['runs']}; for information, not the target).\n"
        )
    emit_json(args.json, {"with_bytecode_cache": results, "without_bytecode_cache": cold})


if __name__ == "__main__":
    main()
