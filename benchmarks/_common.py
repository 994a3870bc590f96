"""Shared helpers: a private environment, machine description, statistics and tables.

Importing this module imports nothing heavy (no Airflow, no HTTP stack): the import-cost
benchmark runs it in the parent process only.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONN_ENV = "AIRFLOW_CONN_METASTUDIO_DEFAULT"


def prepare_env() -> str:
    """Give this process (and its children) a private ``AIRFLOW_HOME`` and ``HOME``.

    Must run before Airflow or ``huaweicloudsdkcore`` is imported: Airflow reads its home at
    import, and the official SDK writes ``~/.huaweicloud/`` when imported.
    """
    sandbox = os.environ.get("VOICETRAINING_BENCH_SANDBOX")
    if not sandbox:
        sandbox = tempfile.mkdtemp(prefix="voicetraining-bench-")
        os.environ["VOICETRAINING_BENCH_SANDBOX"] = sandbox
        atexit.register(shutil.rmtree, sandbox, ignore_errors=True)  # children inherit, never remove
    home = os.path.join(sandbox, "home")
    os.makedirs(home, exist_ok=True)
    os.environ.update(
        {
            "HOME": home,
            "AIRFLOW_HOME": os.path.join(sandbox, "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
    )
    for var in list(os.environ):
        if var.startswith("AIRFLOW_CONN_"):
            del os.environ[var]
    # Measure imports as deployed: pip writes bytecode (.pyc) at install time. This machine sets
    # PYTHONDONTWRITEBYTECODE=1, which recompiles every module (Airflow included) on every import,
    # so the benchmarks keep a private bytecode cache instead (never in site-packages).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(sandbox, "pycache")
    sys.dont_write_bytecode = False
    sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), path) if p)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return sandbox


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, str]:
    return {
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "apache-airflow": _version("apache-airflow-core"),
        "httpx / httpcore": f"{_version('httpx')} / {_version('httpcore')}",
        "requests / urllib3": f"{_version('requests')} / {_version('urllib3')}",
        "uvicorn (emulator)": _version("uvicorn"),
    }


def print_header(title: str, description: str) -> None:
    print(f"\n## {title}\n")
    print(description.strip() + "\n")
    if not os.environ.get("VOICETRAINING_BENCH_MACHINE_SHOWN"):  # once per `python -m benchmarks`
        print_machine()


def print_machine() -> None:
    info = machine_info()
    print(table(["machine", ""], [[k, v] for k, v in info.items()]))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank-interpolated percentile (``p`` in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def interleaved(
    clients: dict[str, Callable[[], Any]],
    iterations: int,
    warmup: int,
    after_warmup: Callable[[], None] = lambda: None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Call every client once per round, the starting client rotating every round, so drift of
    the machine affects all alike; after ``warmup`` rounds (``after_warmup`` runs then) record
    per call the wall time (``perf_counter``) and the calling thread's CPU (``thread_time``), µs."""
    names = list(clients)
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    perf, thread_time = time.perf_counter_ns, time.thread_time_ns
    for i in range(warmup + iterations):
        if i == warmup:
            after_warmup()
        start = i % len(names)
        for name in names[start:] + names[:start]:
            fn = clients[name]
            c0, t0 = thread_time(), perf()
            fn()
            t1, c1 = perf(), thread_time()
            if i >= warmup:
                wall[name].append((t1 - t0) / 1000.0)
                cpu[name].append((c1 - c0) / 1000.0)
    return wall, cpu


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (right-aligned numbers), ready to paste into docs/performance.md."""
    text_rows = [[_cell(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(cells)) + " |"

    out = [line(list(headers)), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out.extend(line(r) for r in text_rows)
    return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def emit_json(path: str | None, data: Any) -> None:
    """Write machine-readable results when ``--json PATH`` was given."""
    if path:
        Path(path).write_text(json.dumps(data, indent=2, default=str))
