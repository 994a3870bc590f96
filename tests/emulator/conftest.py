"""Fixtures for the emulator suite: one shared server (reset before each test) and a signed client,
over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from metastudio_emulator import EmulatorConfig, EmulatorServer

from .helpers import OTHER_PROJECT, Api


@pytest.fixture(scope="session")
def shared_emu() -> Iterator[EmulatorServer]:
    cfg = EmulatorConfig(time_scale=0.01, seed=1, extra_projects={OTHER_PROJECT: "cn-east-3"})
    with EmulatorServer(cfg) as emu:
        yield emu


@pytest.fixture
def emu(shared_emu: EmulatorServer) -> EmulatorServer:
    shared_emu.control.reset()
    return shared_emu


@pytest.fixture
def api(emu: EmulatorServer) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.session.close()


@pytest.fixture
def fresh_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``huaweicloudsdkcore`` writes ``~/.huaweicloud`` on import: keep it in a tmp dir."""
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path
