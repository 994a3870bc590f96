"""The CLI in a subprocess and ``spawn_emulator_process``: announcements, signals, no orphans."""

from __future__ import annotations

import json
import os
import selectors
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import IO

import pytest
import requests

from metastudio_emulator import EmulatorConfig, spawn_emulator_process
from metastudio_emulator.server import EmulatorServer

from .helpers import Api

REPO = Path(__file__).resolve().parents[2]
MODULE = "metastudio_emulator"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


def _read_line(stream: IO[bytes], timeout: float = 20.0) -> str:
    buf = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            assert left > 0 and sel.select(left), f"no line within {timeout}s (got {buf!r})"
            chunk = os.read(stream.fileno(), 4096)
            assert chunk, f"stream closed (got {buf!r})"
            buf += chunk
    return buf.decode()


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        status = Path(f"/proc/{pid}/status")
        if status.exists() and "\nState:\tZ" in status.read_text():
            return True  # exited, waiting to be reaped by its (dead) parent's reaper
        time.sleep(0.05)
    return False


def test_cli_json_announcement_files_and_sigterm(tmp_path: Path) -> None:
    seeds = tmp_path / "jobs.json"
    seeds.write_text(json.dumps([{"state": "SUCCEED", "voice_name": "from-file", "asset_id": "a-1"}]))
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps({"rules": [{"route": "show_quotas", "kind": "status", "status": 500}], "seed": 5})
    )
    cmd = [
        sys.executable,
        "-m",
        MODULE,
        "--json",
        "--port",
        "0",
        "--time-scale",
        "0.01",
        "--seed-jobs",
        str(seeds),
        "--faults",
        str(faults),
        "--ak",
        "CLIAK000000000000001",
        "--sk",
        "cli-secret",
        "--token-ttl",
        "60",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        assert proc.stdout is not None
        info = json.loads(_read_line(proc.stdout))
        assert set(info) == {"url", "ca_file", "pid", "connection", "connection_uri"}
        assert info["pid"] == proc.pid and info["ca_file"] is None
        assert info["connection"]["login"] == "CLIAK000000000000001"
        assert info["connection"]["extra"]["endpoint"] == info["url"]
        assert info["connection_uri"].startswith(
            "huaweicloud-metastudio://CLIAK000000000000001:cli-secret@/?"
        )
        jobs = requests.get(info["url"] + "/_emulator/jobs", timeout=5).json()["jobs"]
        assert [j["view"]["voice_name"] for j in jobs] == ["from-file"]
        assert requests.get(info["url"] + "/_emulator/faults", timeout=5).json()["seed"] == 5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == b""  # one line only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_human_output_and_sigint() -> None:
    cmd = [sys.executable, "-m", MODULE, "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("export "):
            lines.append(_read_line(proc.stdout).strip())
            if "\n" in lines[-1]:
                lines[-1:] = lines[-1].splitlines()
        assert lines[0].startswith("MetaStudio voice-training emulator listening on http://127.0.0.1:")
        name, _, value = shlex.split(lines[-1][len("export ") :])[0].partition("=")
        assert name == "AIRFLOW_CONN_METASTUDIO_DEFAULT"
        conn = json.loads(value)
        assert conn["conn_type"] == "huaweicloud_metastudio" and conn["login"] == "EMULATORAK0000000001"
        assert requests.get(conn["extra"]["endpoint"] + "/_emulator/health", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_refuses_bad_configuration(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"time_scael": 1}))
    result = subprocess.run(
        [sys.executable, "-m", MODULE, "--config", str(bad)], capture_output=True, env=_env(), timeout=30
    )
    assert result.returncode == 2 and b"time_scael" in result.stderr


def test_spawned_process_serves_and_leaves_no_orphan() -> None:
    with spawn_emulator_process(EmulatorConfig(tls=True, time_scale=0.01, seed=3)) as proc:
        pid = proc.pid
        assert pid and pid != os.getpid()
        assert proc.url.startswith("https://") and proc.ca_file and os.path.exists(proc.ca_file)
        assert proc.config.port == int(proc.url.rsplit(":", 1)[1])
        assert proc.control.health()["status"] == "ok"
        api = Api(proc)  # type: ignore[arg-type]
        job_id = api.ready_job("basic")["job_id"]
        api.commit(job_id)
        assert api.wait_state(job_id, "SUCCEED")["asset_id"]
        assert json.loads(proc.connection_json())["extra"]["verify"] == proc.ca_file
        assert proc.control.stats()["cpu_seconds"] > 0
        ca_file = proc.ca_file
    assert _gone(pid, timeout=1)
    assert proc.returncode == 0
    assert not os.path.exists(ca_file)


def test_child_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, signal, sys
            from metastudio_emulator import EmulatorConfig, spawn_emulator_process
            with spawn_emulator_process(EmulatorConfig()) as proc:
                print(proc.pid, proc.url, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)  # no cleanup at all
            """
        )
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=_env())
    assert parent.stdout is not None
    child_pid, url = _read_line(parent.stdout).split()
    assert parent.wait(timeout=10) == -signal.SIGKILL
    assert _gone(int(child_pid), timeout=10), "the emulator outlived its parent"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/_emulator/health", timeout=2)


def test_thread_server_startup_failure_is_reported() -> None:
    with EmulatorServer(EmulatorConfig(port=0)) as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(OSError):
            EmulatorServer(EmulatorConfig(port=port)).start()
