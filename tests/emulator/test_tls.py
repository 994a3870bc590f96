"""HTTPS with the generated CA: verified clients work, unverified ones fail, files are cleaned."""

from __future__ import annotations

import os
import ssl

import httpx
import pytest
import requests

from metastudio_emulator import EmulatorConfig, EmulatorServer

from .helpers import Api


def test_tls_server_with_its_ca() -> None:
    with EmulatorServer(EmulatorConfig(tls=True, time_scale=0.01)) as emu:
        assert emu.url.startswith("https://127.0.0.1:")
        assert emu.ca_file and os.path.exists(emu.ca_file)
        api = Api(emu)  # requests, verify=ca_file
        job_id = api.ready_job("basic")["job_id"]
        assert api.commit(job_id).status_code == 200
        assert api.wait_state(job_id, "SUCCEED")["asset_id"]
        assert api.create("basic")["training_data_uploading_url"].startswith("https://")
        context = ssl.create_default_context(cafile=emu.ca_file)
        assert httpx.get(emu.url + "/_emulator/health", verify=context).json()["status"] == "ok"
        localhost = emu.url.replace("127.0.0.1", "localhost")
        assert requests.get(localhost + "/_emulator/health", verify=emu.ca_file).status_code == 200
        assert emu.control.health()["tls"] is True
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(emu.url + "/_emulator/health", timeout=5)
        with pytest.raises(httpx.ConnectError):
            httpx.get(emu.url + "/_emulator/health")
        assert emu.connection_dict()["extra"]["verify"] == emu.ca_file
        ca_dir = os.path.dirname(emu.ca_file)
    assert not os.path.exists(ca_dir)
