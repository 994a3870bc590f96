"""Per-API throttling at the region's documented rates, and the per-route rates in ``stats``.

The gateway's clock is frozen while a test fills a one-second window, so every call lands in
the same second however slow the machine is; moving the frozen clock on opens the next window.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from metastudio_emulator import EmulatorConfig, EmulatorServer
from metastudio_emulator.requestlog import LogEntry, RequestLog
from metastudio_emulator.responses import ApiError
from metastudio_emulator.throttling import ApiThrottle

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
    api.emu.control.set_clock_offset(0, frozen=True)
    # cn-east-3: 10 queries/s per API; list and show are separate APIs with separate quotas
    listing = [api.call("GET", "/user/jobs").status_code for _ in range(12)]
    assert listing == [200] * 10 + [429] * 2
    refused = api.call("GET", "/user/jobs")
    assert refused.status_code == 429 and refused.json()["error_code"] == "APIGW.0308"
    assert "over ratelimit,limit:10" in refused.json()["error_msg"]
    assert api.call("GET", "/user/jobs/unknown-job").status_code == 404  # show_job: its own quota
    api.emu.control.set_clock_offset(1.0, frozen=True)  # a second on: the next window
    assert api.call("GET", "/user/jobs").status_code == 200
    assert api.emu.control.stats()["api_rate_limits"] == {
        "enabled": True,
        "queries": 10,
        "writes": 3,
        "overrides": {},
    }


def test_writes_have_the_lower_quota(throttled_api: Api) -> None:
    api = throttled_api
    api.emu.control.reset()
    api.emu.control.set_clock_offset(0, frozen=True)
    statuses = [api.call("POST", "/user/basic-jobs", body={"voice_name": "v"}).status_code for _ in range(5)]
    assert statuses == [200] * 3 + [429] * 2


def test_reset_unfreezes_the_gateway_clock(throttled_api: Api) -> None:
    control = throttled_api.emu.control
    control.set_clock_offset(0, frozen=True)
    assert control.stats()["gateway_clock_frozen"] is True
    control.reset()
    assert control.stats()["gateway_clock_frozen"] is False


def test_a_window_is_one_second_long_on_the_gateway_clock() -> None:
    throttle = ApiThrottle(True, "cn-east-3")
    for _ in range(3):
        throttle.check("tenant", "create_basic_job", "POST", 1000.0)
    with pytest.raises(ApiError) as refused:
        throttle.check("tenant", "create_basic_job", "POST", 1000.999)
    assert refused.value.status == 429 and "limit:3" in str(refused.value)
    throttle.check("other-tenant", "create_basic_job", "POST", 1000.999)  # per tenant
    throttle.check("tenant", "create_basic_job", "POST", 1001.0)


def test_a_clock_moved_back_does_not_hold_the_tenant_throttled() -> None:
    throttle = ApiThrottle(True, "cn-east-3")
    for _ in range(3):
        throttle.check("tenant", "create_basic_job", "POST", 5000.0)
    # moved back a minute: arrivals "in the future" belong to a clock that no longer holds
    throttle.check("tenant", "create_basic_job", "POST", 4940.0)


def _entry(at: float, route: str) -> LogEntry:
    return LogEntry(at, "r", "GET", route, "/", "", 200, "aksk", None, None, None, None, 1.0)


def test_rates_report_the_busiest_second_and_the_last_ten_seconds() -> None:
    log = RequestLog()
    for at in (100.1, 100.5, 100.9, 101.2, 109.5):
        log.add(_entry(at, "list_jobs"), None)
    log.add(_entry(109.6, "show_job"), None)
    assert log.rates(now=111.0) == {
        "list_jobs": {"last_10s_per_second": 0.2, "peak_per_second": 3},
        "show_job": {"last_10s_per_second": 0.1, "peak_per_second": 1},
    }
