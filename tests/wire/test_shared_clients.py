"""The async side's shared clients: one bounded connection pool per event loop, released after errors."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_voicetraining._wire import transports
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from tests.hostile_server import Connection, HostileServer, job_body


async def test_many_waiters_share_a_bounded_pool(emu, use_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(transports, "POOL_SIZE", 3)
    use_conn(emu)
    job_ids = [emu.control.seed_job(state="WAITING")["job_id"] for _ in range(30)]
    before = emu.control.stats()["connections"]

    async def wait(job_id: str) -> str:
        async with VoiceTrainingHook() as hook:
            for _ in range(3):  # three polls each
                state = (await hook.aget_job(job_id)).state
        return state

    assert await asyncio.gather(*(wait(j) for j in job_ids)) == ["WAITING"] * 30
    opened = emu.control.stats()["connections"] - before
    assert 1 <= opened <= 3, f"{opened} connections for 90 polls with a pool of 3"
    assert len(emu.control.requests(route="show_job")) == 90


async def test_connections_are_released_after_errors(emu, use_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(transports, "POOL_SIZE", 1)
    use_conn(emu, max_retries=0)
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    emu.control.set_faults([{"route": "show_job", "kind": "drop", "times": 3}])
    async with VoiceTrainingHook() as hook:
        for _ in range(3):
            with pytest.raises(Exception, match="no answer"):
                await hook.aget_job(job_id)
        # the single slot was given back each time: the next call gets through
        assert (await hook.aget_job(job_id)).state == "WAITING"


def test_the_environments_proxy_is_used_unless_no_proxy_names_the_host(emu, use_conn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    job_id = emu.control.seed_job(state="WAITING")["job_id"]
    request_lines: list[bytes] = []

    def proxy(conn: Connection) -> None:
        request_lines.append(conn.request.split(b"\r\n", 1)[0])
        conn.answer(200, job_body(job_id=job_id, state="PROCESSING"))

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with HostileServer(proxy) as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        # proxies are read when a shared client is built: an unusual timeout gets a new one
        use_conn(emu, timeout=7.25)
        with VoiceTrainingHook() as hook:
            assert hook.get_job(job_id).state == "PROCESSING"  # the proxy's answer
        assert request_lines == [f"GET {emu.url}{_show_path(emu, job_id)} HTTP/1.1".encode()]

        monkeypatch.setenv("NO_PROXY", "localhost, 127.0.0.1")
        use_conn(emu, timeout=7.5)
        with VoiceTrainingHook() as hook:
            assert hook.get_job(job_id).state == "WAITING"  # the emulator's, directly
        assert len(request_lines) == 1


def _show_path(emu, job_id: str) -> str:  # type: ignore[no-untyped-def]
    return f"/v1/{emu.config.project_id}/voice-training-manage/user/jobs/{job_id}"
