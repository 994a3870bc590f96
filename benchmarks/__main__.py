"""``python -m benchmarks [NAME ...] [--json-dir DIR]``: run the benchmarks (all by default).

Each runs in its own interpreter (``python -m benchmarks.NAME``), one after the other, and
prints its tables; see ``docs/performance.md`` for the method and the figures. About 40 minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from benchmarks._common import REPO, prepare_env, print_machine

#: name -> what it measures (in the order they run)
BENCHMARKS = {
    "import_cost": "import cost on top of airflow.sdk",
    "per_call": "hook.get_job() vs bare requests vs official SDK",
    "session_call": "a GET through hook.get_conn() vs a bare requests GET",
    "requests_per_wait": "HTTP requests per sensor poke and trigger poll",
    "polling_at_scale": "1,000 and 10,000 waits, shared vs per-job polling; 500 creates under quota",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--json-dir", help="write each benchmark's results to DIR/NAME.json")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    prepare_env()  # one sandbox (AIRFLOW_HOME, HOME, bytecode cache) shared by all runs
    print_machine()
    os.environ["VOICETRAINING_BENCH_MACHINE_SHOWN"] = "1"
    if args.json_dir:
        os.makedirs(args.json_dir, exist_ok=True)
    failed = []
    for name in names:
        print(f"\n# {name}: {BENCHMARKS[name]}", flush=True)
        cmd = [sys.executable, "-m", f"benchmarks.{name}"]
        if args.json_dir:
            cmd += ["--json", os.path.join(args.json_dir, f"{name}.json")]
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=REPO)
        print(f"({name}: {time.monotonic() - started:.0f} s)", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
