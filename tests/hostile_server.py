"""A raw-socket HTTP server on loopback that misbehaves on purpose (no HTTP library on its side).

Each test hands it a *behaviour*: a function that gets the accepted socket and the request
bytes read so far and writes whatever it wants (trickles, floods, stays silent, echoes
credentials). Every connection runs in its own thread; :meth:`HostileServer.stop` closes the
listening socket and every connection and joins the threads, so nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import socket
import struct
import threading
import zlib
from collections.abc import Callable
from typing import Any

Behaviour = Callable[["Connection"], None]


class Connection:
    """One accepted connection: the request received, and ways to answer it."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping
        self.request = b""

    def read_request(self) -> bytes:
        """Read one request head (and a Content-Length body) within 5 s."""
        self.sock.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.request = head + b"\r\n\r\n" + rest
        return self.request

    def header(self, name: str) -> str:
        """A request header's value ('' if absent)."""
        for line in self.request.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return ""

    def send(self, data: bytes) -> bool:
        """Send ``data``; False once the client went away."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """A complete, well-formed answer (with Content-Length) and keep-alive off."""
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def pause(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False if it is."""
        return not self.stopping.wait(seconds)


class HostileServer:
    """``with HostileServer(behaviour) as server:`` then point a connection at ``server.url``.

    :param behaviour: what each connection gets.
    :param host: ``127.0.0.1`` or ``::1`` (IPv6 loopback; the URL is ``http://[::1]:port``).
    """

    def __init__(self, behaviour: Behaviour, host: str = "127.0.0.1") -> None:
        self.behaviour = behaviour
        self.stopping = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.listener.settimeout(0.1)  # the accepter looks at ``stopping`` ten times a second
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.listener.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.requests: list[bytes] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> HostileServer:
        self._accepter.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Connection(sock, self.stopping)
        with contextlib.suppress(OSError, ValueError):
            self.requests.append(conn.read_request())
            sock.settimeout(10)
            self.behaviour(conn)
        with contextlib.suppress(OSError):
            sock.close()

    def stop(self) -> None:
        self.stopping.set()
        # the accepter ends first (within its 0.1 s timeout): it never sees a closed listener,
        # and no connection it accepted is added after the ones below were closed
        if self._accepter.ident is not None:  # started
            self._accepter.join(5)
        with contextlib.suppress(OSError):
            self.listener.close()
        for sock in self.connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(5)
        alive = [t for t in self._threads if t.is_alive()]
        assert not alive, f"{len(alive)} hostile-server threads did not stop"


# ------------------------------------------------------------------------------ behaviours
def trickle_headers(interval: float) -> Behaviour:
    """A status line, then one header byte every ``interval`` seconds, forever."""

    def behave(conn: Connection) -> None:
        if not conn.send(b"HTTP/1.1 200 OK\r\nX-Pad: "):
            return
        while conn.send(b"a") and conn.pause(interval):
            pass

    return behave


def trickle_body(interval: float) -> Behaviour:
    """Complete headers announcing a 1 MB JSON body, then one body byte every ``interval`` s."""

    def behave(conn: Connection) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
        if not conn.send(head):
            return
        while conn.send(b" ") and conn.pause(interval):
            pass

    return behave


def silence(conn: Connection) -> None:
    """Accept, read the request, never answer."""
    while conn.pause(0.2):
        pass


def huge_body(size: int) -> Behaviour:
    """A 200 whose valid-JSON body is ``size`` bytes, sent as fast as the client reads."""

    def behave(conn: Connection) -> None:
        head = b'{"job_id": "hostile-job", "state": "WAITING", "pad": "'
        tail = b'"}'
        pad = size - len(head) - len(tail)
        headers = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
        if not conn.send(headers.encode() + head):
            return
        block = b"x" * (1 << 20)
        while pad > 0 and conn.send(block[: min(pad, len(block))]):
            pad -= len(block)
        conn.send(tail)

    return behave


def endless_chunked(conn: Connection) -> None:
    """A chunked 200 that never ends."""
    if not conn.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ):
        return
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while conn.send(frame):
        pass


def _gzip_of_zeros(size: int) -> bytes:
    """A valid gzip member of ``size`` zero bytes (a multiple of 1 MiB), built in a fraction of a
    second: a full flush ends each 1 MiB deflate segment byte-aligned with no back-reference
    across it, so one compressed segment, repeated, is the stream; only the CRC needs every
    byte. (Compressing the whole GiB at level 9 cost ~5 s of CPU per pytest-xdist worker.)"""
    block = 1 << 20
    assert size % block == 0, size
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    segment = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    final_block = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    crc, zeros = 0, bytes(block)
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    # magic, deflate, no flags, no mtime, level 9, unknown OS
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + segment * (size // block) + final_block + struct.pack("<II", crc, size & 0xFFFFFFFF)


_BOMBS: dict[str, bytes] = {}


def gzip_bomb() -> bytes:
    """About 1 MB of gzip that expands to 1 GiB (built once per test session)."""
    if "single" not in _BOMBS:
        _BOMBS["single"] = _gzip_of_zeros(1 << 30)
    return _BOMBS["single"]


def double_gzip_bomb() -> bytes:
    """gzip of :func:`gzip_bomb`: a few KB, two layers, 1 GiB at the end."""
    if "double" not in _BOMBS:
        _BOMBS["double"] = gzip.compress(gzip_bomb(), 9)
    return _BOMBS["double"]


def compressed(body: bytes, encoding: str) -> Behaviour:
    """A 200 with ``body`` and ``Content-Encoding: encoding``."""

    def behave(conn: Connection) -> None:
        conn.answer(200, body, {"Content-Type": "application/json", "Content-Encoding": encoding})

    return behave


def fixed(status: int, body: bytes, **headers: str) -> Behaviour:
    """Always the same answer."""

    def behave(conn: Connection) -> None:
        conn.answer(status, body, {"Content-Type": "application/json", **headers})

    return behave


def deep_json(depth: int) -> bytes:
    return b'{"job_id": "j", "state": "WAITING", "x": ' + b"[" * depth + b"]" * depth + b"}"


def echo_credentials(conn: Connection) -> None:
    """A 400 that echoes every credential-bearing request header into every field it can."""
    echoed = " | ".join(
        f"{name}: {conn.header(name)}"
        for name in ("Authorization", "X-Auth-Token", "X-Security-Token")
        if conn.header(name)
    )
    token = conn.header("X-Auth-Token") or conn.header("X-Security-Token") or "none"
    body = json.dumps({"error_code": f"ECHO.{token}", "error_msg": f"you sent {echoed}"}).encode()
    conn.answer(400, body, {"Content-Type": "application/json", "X-Request-Id": token[:60]})


def echo_in_text_page(cut: int) -> Behaviour:
    """A 502 text page whose credential echo straddles character ``cut`` of the page."""

    def behave(conn: Connection) -> None:
        secret = conn.header("X-Auth-Token") or conn.header("Authorization")
        page = ("<html>gateway error " + "." * (cut - 30) + secret + " end</html>").encode()
        conn.answer(502, page, {"Content-Type": "text/html"})

    return behave


def job_body(**fields: Any) -> bytes:
    return json.dumps({"job_id": "hostile-job", "state": "WAITING", **fields}).encode()


def request_path(conn: Connection) -> str:
    """The path (and query) of the request read on ``conn``."""
    line = conn.request.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    return parts[1] if len(parts) > 1 else ""


def job_service(job: bytes, listed: bytes | None = None, **headers: str) -> Behaviour:
    """A 200 with ``job`` for every show and ``{"count": 1, "jobs": [job]}`` for every list
    (``listed`` replaces the list answer): what a trigger sees whichever source it polls."""

    def behave(conn: Connection) -> None:
        path = request_path(conn)
        is_list = path.split("?", 1)[0].endswith("/user/jobs")
        body = (listed if listed is not None else b'{"count": 1, "jobs": [' + job + b"]}") if is_list else job
        conn.answer(200, body, {"Content-Type": "application/json", **headers})

    return behave


def raw_job(text: str) -> bytes:
    """A job body written by hand (duplicate keys, escapes json.dumps would not produce)."""
    return text.encode("utf-8")
