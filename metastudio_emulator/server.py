"""Run the emulator: uvicorn in a background thread, or the CLI in a child process.

:class:`EmulatorServer` binds the socket itself (so ``port=0`` resolves before anything
starts), runs uvicorn on its own event loop in a daemon thread without signal handlers, and
returns only once the server accepts connections. Keep-alive is long (clients poll over one
connection for minutes) and the listen backlog large (bursts of 1,000 connections).

:func:`spawn_emulator_process` starts ``python -m metastudio_emulator``
with the configuration on stdin (no secrets in ``argv``), reads one JSON line announcing the
URL, and keeps the child's stdin open: the child exits when it sees EOF, so even a parent
killed with SIGKILL leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import uvicorn

from metastudio_emulator import airflow_connection as conn
from metastudio_emulator.app import build_app
from metastudio_emulator.config import EmulatorConfig, config_to_dict
from metastudio_emulator.control import EmulatorControl
from metastudio_emulator.runtime import EmulatorRuntime

if TYPE_CHECKING:
    from metastudio_emulator.tls import TlsFiles

STARTUP_TIMEOUT = 30.0


def client_host(host: str) -> str:
    """The address clients should use for a bind address (wildcards -> loopback)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 (a comparison, not a bind)
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def format_url(scheme: str, host: str, port: int) -> str:
    h = client_host(host)
    if ":" in h:
        h = f"[{h}]"
    return f"{scheme}://{h}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _ConnectionMixin:
    """``connection_json`` / ``connection_uri`` for anything with url, ca_file, config, control."""

    url: str
    ca_file: str | None
    config: EmulatorConfig

    @property
    def control(self) -> EmulatorControl:
        raise NotImplementedError

    def _conn_kwargs(self, auth_type: str) -> dict[str, Any]:
        token = self.control.issue_token() if auth_type == "token" else None
        return {"auth_type": auth_type, "token": token}

    def connection_dict(self, auth_type: str = "aksk", **overrides: Any) -> dict[str, Any]:
        return conn.connection_dict(
            self.config, self.url, self.ca_file, **self._conn_kwargs(auth_type), **overrides
        )

    def connection_json(self, auth_type: str = "aksk", **overrides: Any) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>``; ``overrides`` are merged into ``extra``."""
        return json.dumps(self.connection_dict(auth_type, **overrides))

    def connection_uri(self, auth_type: str = "aksk", **overrides: Any) -> str:
        """URI form of :meth:`connection_json`."""
        return conn.connection_uri(
            self.config, self.url, self.ca_file, **self._conn_kwargs(auth_type), **overrides
        )


class EmulatorServer(_ConnectionMixin):
    """The emulator in a background thread of this process: ``with EmulatorServer(cfg) as emu:``."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.url = ""
        self.ca_file: str | None = None
        self.runtime: EmulatorRuntime | None = None
        self._tls: TlsFiles | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._control: EmulatorControl | None = None

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            if not self.url:
                raise RuntimeError("the emulator is not running")
            self._control = EmulatorControl(self.url, verify=self.ca_file or True)
        return self._control

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("already started")
        cfg = self.config
        sock = bind_socket(cfg.host, cfg.port)
        port = int(sock.getsockname()[1])
        self.config = dataclasses.replace(cfg, port=port)
        ssl_kwargs: dict[str, Any] = {}
        if cfg.tls:
            from metastudio_emulator.tls import generate  # cryptography: only when needed

            self._tls = generate(cfg.host)
            self.ca_file = self._tls.ca_file
            ssl_kwargs = {"ssl_certfile": self._tls.cert_file, "ssl_keyfile": self._tls.key_file}
        app, self.runtime = build_app(self.config)
        uv_config = uvicorn.Config(
            app,
            host=cfg.host,
            port=port,
            log_config=None,
            log_level=cfg.log_level,
            access_log=cfg.access_log,
            lifespan="off",
            proxy_headers=False,
            server_header=False,
            timeout_keep_alive=cfg.keep_alive_timeout,
            timeout_graceful_shutdown=5,
            backlog=cfg.backlog,
            **ssl_kwargs,
        )
        self._server = uvicorn.Server(uv_config)
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"metastudio-emulator-{port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._cleanup()
                raise RuntimeError(f"the emulator failed to start: {self._error!r}")
            time.sleep(0.005)
        self.url = format_url("https" if cfg.tls else "http", cfg.host, port)
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from a failed startup included
            self._error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            deadline = time.monotonic() + 15
            while self._thread.is_alive() and time.monotonic() < deadline:
                self._thread.join(timeout=0.05)
                self._abort_closing_connections()
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout=5)
        self._cleanup()

    def _abort_closing_connections(self) -> None:
        """Abort connections uvicorn already asked to close but that still linger.

        A TLS close waits for the peer's ``close_notify``, which an idle keep-alive client never
        sends, so without this a stop would hang until uvicorn's graceful-shutdown timeout.
        """
        if self._server is None:
            return
        try:
            connections = list(self._server.server_state.connections)
        except RuntimeError:  # the set changed while copying: try again on the next tick
            return
        for connection in connections:
            transport = getattr(connection, "transport", None)
            loop = getattr(connection, "loop", None)
            if transport is not None and loop is not None and transport.is_closing():
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(transport.abort)

    def _cleanup(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[1])


class EmulatorProcess(_ConnectionMixin):
    """The emulator in a child process (same CLI users run); see :func:`spawn_emulator_process`."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.url = ""
        self.ca_file: str | None = None
        self.pid: int | None = None
        self.announcement: dict[str, Any] = {}
        self.exit_code: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._control: EmulatorControl | None = None

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            if not self.url:
                raise RuntimeError("the emulator process is not running")
            self._control = EmulatorControl(self.url, verify=self.ca_file or True)
        return self._control

    def stderr_tail(self, limit: int = 4000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")[-limit:]

    def start(self, timeout: float = STARTUP_TIMEOUT) -> EmulatorProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the child; closed in stop)
        cmd = [
            sys.executable,
            "-m",
            "metastudio_emulator",
            "--json",
            "--config",
            "-",
            "--exit-on-stdin-eof",
        ]
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env
        )
        self.pid = self._proc.pid
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps(config_to_dict(self.config)).encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:  # the child died at once; its stderr says why
            line = b""
        else:
            line = self._read_line(self._proc.stdout, timeout)
        if not line:
            tail = self.stderr_tail()
            self.stop()
            raise RuntimeError(f"the emulator process did not start:\n{tail}")
        self.announcement = json.loads(line)
        self.url = self.announcement["url"]
        self.ca_file = self.announcement.get("ca_file")
        self.config = dataclasses.replace(self.config, port=int(self.url.rsplit(":", 1)[1]))
        return self

    def _read_line(self, stream: IO[bytes], timeout: float) -> bytes:
        buf = b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(stream, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return b""
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    return b""
                buf += chunk
        return buf.split(b"\n", 1)[0]

    def stop(self, timeout: float = 15.0) -> None:
        proc = self._proc
        if self._control is not None:
            self._control.close()
            self._control = None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            self.exit_code = proc.returncode
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def returncode(self) -> int | None:
        """Exit status once the child ended (``None`` while it runs)."""
        return self.exit_code if self._proc is None else self._proc.poll()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def spawn_emulator_process(config: EmulatorConfig | None = None) -> Iterator[EmulatorProcess]:
    """``with spawn_emulator_process(cfg) as proc:`` the emulator in its own process, stopped on exit."""
    proc = EmulatorProcess(config).start()
    try:
        yield proc
    finally:
        proc.stop()
