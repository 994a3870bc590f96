"""Per-API throttling at the region's documented rates, and the per-route rates in ``stats``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metastudio_emulator import EmulatorConfig, EmulatorServer

from .helpers import Api


@pytest.fixture(scope="module")
def throttled_api() -> Iterator[Api]:
    config = EmulatorConfig(time_scale=0.01, region="cn-east-3", api_rate_limits=True)
    with EmulatorServer(config) as emu:
        client = Api(emu)
        yield client
        client.session.close()


def test_each_api_admits_its_documented_rate_per_second(throttled_api: Api) -> None:
    api = throttled_api
    api.emu.control.reset()
    # cn-east-3: 10 queries/s per API; list and show are separate APIs with separate quotas
    listing = [api.call("GET", "/user/jobs").status_code for _ in range(12)]
    assert listing[:10] == [200] * 10 and 429 in listing[10:]
    refused = api.call("GET", "/user/jobs")
    assert refused.status_code == 429 and refused.json()["error_code"] == "APIGW.0308"
    assert "over ratelimit,limit:10" in refused.json()["error_msg"]
    assert api.call("GET", "/user/jobs/unknown-job").status_code == 404  # show_job: its own quota
    rates = api.emu.control.stats()["rates"]
    assert rates["list_jobs"]["peak_per_second"] >= 10
    assert api.emu.control.stats()["api_rate_limits"] == {
        "enabled": True,
        "queries": 10,
        "writes": 3,
        "overrides": {},
    }


def test_writes_have_the_lower_quota(throttled_api: Api) -> None:
    api = throttled_api
    api.emu.control.reset()
    statuses = [api.call("POST", "/user/basic-jobs", body={"voice_name": "v"}).status_code for _ in range(5)]
    assert statuses[:3] == [200] * 3 and 429 in statuses[3:]
