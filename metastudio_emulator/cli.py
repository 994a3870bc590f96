"""``metastudio-emulator``: run the emulator in the foreground.

Without ``--json`` it prints the endpoint and a ready ``export AIRFLOW_CONN_METASTUDIO_DEFAULT=``
line (the demo credentials included: they are fixed public demo values). With ``--json`` it
prints exactly one JSON line ``{"url", "ca_file", "pid", "connection", "connection_uri"}`` for a
parent process and nothing else on stdout. SIGTERM and SIGINT stop it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
from types import FrameType
from typing import Any

from metastudio_emulator import airflow_connection as conn
from metastudio_emulator.config import EmulatorConfig, config_from_dict
from metastudio_emulator.server import EmulatorServer


def _load_json(path: str) -> Any:
    if path == "-":
        return json.loads(sys.stdin.buffer.readline() or b"{}")
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="metastudio-emulator",
        description="Local emulator of the Huawei Cloud MetaStudio voice-training API "
        "(offline DAG development).",
    )
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port, 0 = a free one (default 0)")
    p.add_argument("--tls", action="store_true", default=None, help="serve HTTPS with a generated CA")
    p.add_argument(
        "--api-rate-limits",
        action="store_true",
        default=None,
        help="throttle each voice API at the region's documented rate (429 APIGW.0308 beyond it)",
    )
    p.add_argument("--time-scale", type=float, help="multiplier of every job state duration (default 1.0)")
    p.add_argument("--seed", type=int, help="seed of fault decisions (default 0)")
    p.add_argument(
        "--faults", metavar="FILE.json", help="fault rules: a list, or {'rules': [...], 'seed': n}"
    )
    p.add_argument("--seed-jobs", metavar="FILE.json", help="jobs to preseed: a list of job field objects")
    p.add_argument("--ak", help="access key accepted (default: the demo AK)")
    p.add_argument("--sk", help="its secret key (default: the demo SK)")
    p.add_argument("--project-id", help="project id (default: the demo project)")
    p.add_argument("--token-ttl", type=float, help="IAM token lifetime in seconds (default 86400)")
    p.add_argument(
        "--config", metavar="FILE.json", help="full EmulatorConfig as JSON ('-' = one line on stdin)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON line for a parent process")
    p.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes (parent died)")
    p.add_argument("--log-level", help="uvicorn/emulator log level (default warning)")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    data: dict[str, Any] = _load_json(args.config) if args.config else {}
    overrides = {
        "host": args.host,
        "port": args.port,
        "tls": args.tls,
        "api_rate_limits": args.api_rate_limits,
        "time_scale": args.time_scale,
        "seed": args.seed,
        "access_key": args.ak,
        "secret_key": args.sk,
        "project_id": args.project_id,
        "token_ttl_seconds": args.token_ttl,
        "log_level": args.log_level,
    }
    data.update({k: v for k, v in overrides.items() if v is not None})
    if args.faults:
        faults = _load_json(args.faults)
        if isinstance(faults, dict):
            data["faults"] = faults.get("rules", [])
            if "seed" in faults:
                data["fault_seed"] = int(faults["seed"])
        else:
            data["faults"] = faults
    if args.seed_jobs:
        jobs = _load_json(args.seed_jobs)
        data["seed_jobs"] = jobs.get("jobs", []) if isinstance(jobs, dict) else jobs
    return config_from_dict(data)


def _watch_stdin(stop: threading.Event) -> None:
    """Set ``stop`` at EOF on stdin: the parent closed it or died.

    Reads the raw descriptor: a daemon thread blocked inside a *buffered* stdin read would
    hold its lock at interpreter exit and abort the process.
    """
    try:
        fd = sys.stdin.fileno()
        while os.read(fd, 65536):
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (OSError, ValueError, TypeError) as exc:
        print(f"metastudio-emulator: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr, level=config.log_level.upper(), format="%(asctime)s %(name)s %(message)s"
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = EmulatorServer(config).start()
    except (OSError, RuntimeError) as exc:
        print(f"metastudio-emulator: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        connection = conn.connection_dict(server.config, server.url, server.ca_file)
        uri = conn.connection_uri(server.config, server.url, server.ca_file)
        if args.json:
            info = {
                "url": server.url,
                "ca_file": server.ca_file,
                "pid": os.getpid(),
                "connection": connection,
                "connection_uri": uri,
            }
            print(json.dumps(info), flush=True)
        else:
            cfg = server.config
            print(f"MetaStudio voice-training emulator listening on {server.url}")
            print(f"  project {cfg.project_id}, region {cfg.region}, time scale {cfg.time_scale}")
            if server.ca_file:
                print(f"  CA bundle: {server.ca_file}")
            print(f"  control routes: {server.url}/_emulator/health, .../stats, .../requests")
            print("Use it from Airflow (demo credentials, not real ones):")
            print(f"export AIRFLOW_CONN_METASTUDIO_DEFAULT={shlex.quote(json.dumps(connection))}", flush=True)
        if args.exit_on_stdin_eof:
            threading.Thread(target=_watch_stdin, args=(stop,), daemon=True).start()
        while not stop.wait(0.5):
            if not server.running:
                print("metastudio-emulator: server thread ended unexpectedly", file=sys.stderr)
                return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
