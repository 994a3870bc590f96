"""The gates before paying for training, for real with ``dag.test()``: the recording check
(``AssessVoiceRecordingsOperator``, deferrable and inline) and the quota check of the create
operator (none left -> nothing created; the opt-in wait; the switch)."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest

from airflow_provider_voicetraining.packages import make_synthetic_package
from tests.airflow_helpers import run_dag


def _recordings(path: Path, names: list[str]) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, b"RIFF....WAVEfmt " + b"\0" * 64)
    return str(path)


def _routes(emu) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["route"] for r in emu.control.requests()]


@pytest.mark.parametrize("style", ["deferrable", "inline"])
def test_good_recordings_pass(emu, use_conn, dagbag, tmp_path, style: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    package = _recordings(tmp_path / "rec.zip", ["0.wav", "1.wav"])
    result = run_dag(dagbag, f"t_assess_{style}", {"package": package})
    assert result.tasks == {"assess": "success", "assess_report": "success"}
    assessment = result.xcom("assess")
    assert assessment == result.xcom("assess", "assessment")
    assert assessment["passed"] is True and assessment["problems"] == []
    assert assessment["job_id"] == result.xcom("assess", "job_id")
    assert set(assessment["result"]) >= {"snr", "sound", "speed", "reverb", "suggestion"}
    routes = _routes(emu)
    assert routes[:3] == ["create_short_job", "obs_upload", "commit_short_job"]
    assert "show_short_job" in routes and "create_basic_job" not in routes
    assert [j["kind"] for j in emu.control.jobs()] == ["short", "short"]


@pytest.mark.parametrize("style", ["deferrable", "inline"])
def test_bad_recordings_fail_without_retry_or_are_reported(
    emu, use_conn, dagbag, tmp_path, style: str
) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    package = _recordings(tmp_path / "rec.zip", ["0.wav", "noisy-kitchen.wav"])
    result = run_dag(dagbag, f"t_assess_{style}", {"package": package})
    # retries=1, but recordings out of range are final: one try
    assert result.instances[("assess", -1)] == ("failed", 1)
    rejected = result.xcom("assess", "assessment")
    assert rejected["passed"] is False
    assert [p["property"] for p in rejected["problems"]] == ["snr"]
    assert "quiet room" in rejected["problems"][0]["suggestion"]
    assert result.tasks["assess_report"] == "success"
    reported = result.xcom("assess_report")
    assert reported["passed"] is False and reported["problems"] == rejected["problems"]


def test_recordings_are_checked_locally_first(emu, use_conn, dagbag, tmp_path) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    package = _recordings(tmp_path / "rec.zip", ["notes.txt"])
    result = run_dag(dagbag, "t_assess_inline", {"package": package})
    assert result.tasks == {"assess": "failed", "assess_report": "failed"}
    assert emu.control.requests() == []


@pytest.fixture
def package(tmp_path: Path) -> str:
    return make_synthetic_package(tmp_path / "basic.zip", "basic", seconds=0.01)


def test_no_quota_left_fails_before_anything_is_created(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.set_quotas(basic=0)
    result = run_dag(dagbag, "t_quota", {"package": package})
    assert result.tasks == {"create": "failed"}
    # try 1 checks the quota; try 2 looks for try 1's job (none) and checks again: nothing created
    assert _routes(emu) == ["show_quotas", "list_jobs", "show_quotas"]
    assert emu.control.jobs() == [] and result.xcom("create", "job_id") is None


def test_waiting_for_quota(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.set_quotas(basic=0)
    seen = threading.Event()

    def free_one() -> None:
        while not emu.control.requests(route="show_quotas"):
            if seen.wait(0.05):
                return
        emu.control.set_quotas(basic=1)

    helper = threading.Thread(target=free_one, daemon=True)
    helper.start()
    try:
        result = run_dag(dagbag, "t_quota_wait", {"package": package})
    finally:
        seen.set()
        helper.join(timeout=5)
    assert result.tasks == {"create": "success"}
    routes = _routes(emu)
    assert routes.count("show_quotas") >= 2 and routes.index("create_basic_job") > routes.index("show_quotas")
    assert emu.control.quotas()["available"]["basic"] == 0  # the commit used the freed training


def test_the_quota_check_can_be_switched_off(emu, use_conn, dagbag, package) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    result = run_dag(dagbag, "t_quota_off", {"package": package})
    assert result.tasks == {"create": "success"}
    assert "show_quotas" not in _routes(emu)
