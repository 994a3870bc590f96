"""1,000 concurrent keep-alive connections, each used twice across an idle gap longer than
uvicorn's default 5 s keep-alive (clients poll every 10 s over one connection)."""

from __future__ import annotations

import asyncio
import time

from airflow_provider_voicetraining._wire import signing
from metastudio_emulator import EmulatorServer

from .helpers import Api

CONNECTIONS = 1000
IDLE_GAP = 5.5


async def _roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    await reader.readexactly(int(headers["content-length"]))
    assert headers.get("connection", "").lower() != "close"
    return int(lines[0].split()[1])


async def _hammer(host: str, port: int, request: bytes) -> tuple[list[int], list[int]]:
    conns = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(CONNECTIONS)))
    try:
        first = await asyncio.gather(*(_roundtrip(r, w, request) for r, w in conns))
        await asyncio.sleep(IDLE_GAP)
        second = await asyncio.gather(*(_roundtrip(r, w, request) for r, w in conns))
    finally:
        for _, writer in conns:
            writer.close()
    return list(first), list(second)


def test_thousand_keep_alive_connections(emu: EmulatorServer, api: Api) -> None:
    path = api.prefix + "/quotas"
    headers = signing.sign(
        method="GET",
        path=path,
        query="",
        headers={"Content-Type": "application/json"},
        body=b"",
        host=api.host,
        access_key=emu.config.access_key,
        secret_key=emu.config.secret_key,
    )  # one signature is valid for 15 minutes: reuse it on every connection
    request = (
        f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    ).encode()
    host, port = api.host.rsplit(":", 1)
    start = time.monotonic()
    first, second = asyncio.run(_hammer(host, int(port), request))
    assert first == second == [200] * CONNECTIONS
    stats = emu.control.stats()
    assert stats["connections"] == CONNECTIONS  # no connection was replaced after the idle gap
    assert stats["requests"]["show_quotas"] == {"200": 2 * CONNECTIONS}
    assert time.monotonic() - start < 30
