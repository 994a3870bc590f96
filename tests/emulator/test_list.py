"""``GET P/user/jobs``: filters, OR-ed states, sorting, pagination and parameter validation."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .helpers import Api


def _list(api: Api, **query: Any) -> dict[str, Any]:
    r = api.call("GET", "/user/jobs", query=query)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


@pytest.fixture
def population(api: Api) -> dict[str, list[str]]:
    ctl = api.emu.control
    ids: dict[str, list[str]] = {"FAILED": [], "WAITING": [], "SUCCEED": []}
    base = int(time.time() * 1000) - 100_000
    for i in range(5):
        ids["FAILED"].append(
            ctl.seed_job(
                state="FAILED",
                voice_name=f"failed-{i}",
                job_type="MIDDLE",
                create_time=base + i * 1000,
                lastupdate_time=base + 50_000 - i * 1000,
                tag="NEWS",
            )["job_id"]
        )
    for i in range(3):
        ids["WAITING"].append(
            ctl.seed_job(
                state="WAITING",
                voice_name=f"waiting-{i}",
                batch_name="batch-a",
                create_time=base + 10_000 + i * 1000,
                is_ondemand_resource=True,
            )["job_id"]
        )
    ids["SUCCEED"].append(
        ctl.seed_job(state="SUCCEED", voice_name="my voice", create_time=base + 20_000)["job_id"]
    )
    return ids


def test_state_filter_is_a_comma_separated_or(api: Api, population: dict[str, list[str]]) -> None:
    assert _list(api, state="FAILED")["count"] == 5
    both = _list(api, state="FAILED,WAITING", limit=100)
    assert both["count"] == 8 and len(both["jobs"]) == 8
    assert {j["state"] for j in both["jobs"]} == {"FAILED", "WAITING"}
    assert _list(api)["count"] == 9


def test_exact_filters(api: Api, population: dict[str, list[str]]) -> None:
    assert [j["voice_name"] for j in _list(api, voice_name="my voice")["jobs"]] == ["my voice"]
    assert _list(api, job_type="MIDDLE")["count"] == 5
    assert _list(api, batch_name="batch-a")["count"] == 3
    assert _list(api, tag="NEWS")["count"] == 5
    assert _list(api, is_ondemand_resource="true")["count"] == 3
    assert _list(api, is_ondemand_resource="false")["count"] == 6
    job_id = population["WAITING"][1]
    assert [j["job_id"] for j in _list(api, job_id=job_id)["jobs"]] == [job_id]
    assert _list(api, voice_name="nobody")["count"] == 0


def test_pagination_is_stable_and_complete(api: Api, population: dict[str, list[str]]) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = _list(api, offset=offset, limit=2, sort_key="create_time", sort_dir="asc")
        assert page["count"] == 9
        if not page["jobs"]:
            break
        seen += [j["job_id"] for j in page["jobs"]]
        offset += len(page["jobs"])
    assert seen == population["FAILED"] + population["WAITING"] + population["SUCCEED"]
    assert _list(api)["jobs"][0]["job_id"] == population["SUCCEED"][0]  # default: newest first
    api.emu.control.seed_job(state="WAITING")
    api.emu.control.seed_job(state="WAITING")
    assert _list(api)["count"] == 11 and len(_list(api)["jobs"]) == 10  # default limit 10


def test_time_filters_and_update_sort(api: Api, population: dict[str, list[str]]) -> None:
    failed = [api.show(i) for i in population["FAILED"]]
    pivot = failed[2]["create_time"]
    assert _list(api, state="FAILED", create_since=pivot)["count"] == 3
    assert _list(api, state="FAILED", create_until=pivot)["count"] == 3
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(pivot / 1000 + 1))
    assert _list(api, state="FAILED", create_since=iso)["count"] == 2
    by_update = _list(api, state="FAILED", sort_key="update_time", sort_dir="asc")["jobs"]
    assert [j["job_id"] for j in by_update] == list(reversed(population["FAILED"]))
    latest_update = max(j["lastupdate_time"] for j in failed)
    assert _list(api, state="FAILED", update_since=latest_update)["count"] == 1
    assert _list(api, state="FAILED", update_until=latest_update - 1)["count"] == 4


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"state": "FAILED,BOGUS"}, "BOGUS"),
        ({"job_type": "GOLD"}, "job_type"),
        ({"tag": "SPORTS"}, "tag"),
        ({"sort_key": "name"}, "sort_key"),
        ({"sort_dir": "up"}, "sort_dir"),
        ({"create_since": "yesterday"}, "create_since"),
        ({"is_ondemand_resource": "maybe"}, "is_ondemand_resource"),
    ],
)
def test_bad_parameters_are_400(api: Api, query: dict[str, Any], fragment: str) -> None:
    r = api.call("GET", "/user/jobs", query=query)
    assert r.status_code == 400 and r.json()["error_code"] == "MSS.00000003"
    assert fragment in r.json()["error_msg"]


def test_live_jobs_are_listed_in_their_current_state(api: Api) -> None:
    job_id = api.ready_job("basic", voice_name="live")["job_id"]
    assert _list(api, state="CREATING")["count"] == 1
    api.commit(job_id)
    api.wait_state(job_id, "SUCCEED")
    assert _list(api, state="SUCCEED")["jobs"][0]["asset_id"]
    assert _list(api, state="CREATING")["count"] == 0
