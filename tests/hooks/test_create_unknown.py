"""Class 4 of issue 19: never a second paid training.

The rule (docs/hook.md, ``VoiceTrainingHook.create_job``): a create whose outcome is unknown
is never sent again; the job it made is adopted if exactly one matches, else
``VoiceTrainingCreateUnknownError``. The outcome must not depend on clock skew up to what the
gateway accepts (15 minutes): the emulator's clock, job timestamps included, is set off by the
skew (``set_clock_offset(..., jobs=True)``), as a machine whose clock is that far off sees it.
A task retry of the create operator adopts the job instead of creating a second one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_voicetraining._wire.signing import MAX_CLOCK_SKEW
from airflow_provider_voicetraining.errors import VoiceTrainingCreateUnknownError
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

#: the service's clock relative to ours: -14.5 min is a machine 14.5 minutes fast
SKEWS = {
    "machine 14.5 min fast": -14.5 * 60,
    "machine 6 min fast": -6 * 60,
    "no skew": 0.0,
    "machine 6 min slow": 6 * 60,
    "machine 14.5 min slow": 14.5 * 60,
}
#: what the create's answer was, and whether the service made the job
LOST_ANSWERS: dict[str, tuple[dict[str, Any], bool]] = {
    "500, no job": ({"kind": "status", "status": 500}, False),
    "503 from the gateway, no job": ({"kind": "status", "status": 503}, False),
    "connection dropped after processing": ({"kind": "drop"}, True),
    "garbled 200, job made": ({"kind": "malformed"}, True),
    "garbled 200, job not listed": ({"kind": "malformed", "process": False}, False),
}


def test_the_tolerance_is_the_gateways() -> None:
    assert MAX_CLOCK_SKEW == 15 * 60


@pytest.mark.parametrize("answer", list(LOST_ANSWERS))
@pytest.mark.parametrize("skew", list(SKEWS))
def test_an_unknown_create_is_sent_once_and_adopted_or_reported(
    emu, use_conn, skew: str, answer: str
) -> None:  # type: ignore[no-untyped-def]
    rule, made = LOST_ANSWERS[answer]
    use_conn(emu)
    emu.control.set_clock_offset(SKEWS[skew], jobs=True)
    emu.control.set_faults([{"route": "create_basic_job", "times": 1, **rule}])
    hook = VoiceTrainingHook()
    if made:
        created = hook.create_job("basic", voice_name="once", batch_name="b-1")
        assert [j.job_id for j in hook.list_jobs(voice_name="once")] == [created.job_id]
        assert created.upload_urls.training_data_uploading_url
    else:
        with pytest.raises(VoiceTrainingCreateUnknownError) as info:
            hook.create_job("basic", voice_name="once", batch_name="b-1")
        message = str(info.value)
        assert "was not sent again" in message and "batch_name 'b-1'" in message
        assert list(hook.list_jobs(voice_name="once")) == []
    assert len(emu.control.requests(route="create_basic_job")) == 1  # never sent twice


def test_a_failed_lookup_is_reported_not_resent(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=0)
    emu.control.set_faults(
        [
            {"route": "create_basic_job", "kind": "malformed", "times": 1},
            {"route": "list_jobs", "kind": "status", "status": 503, "times": 1},
        ]
    )
    with pytest.raises(VoiceTrainingCreateUnknownError, match="looking for the job it may have made failed"):
        VoiceTrainingHook().create_job("basic", voice_name="lookup-fails")
    assert len(emu.control.requests(route="create_basic_job")) == 1


def test_a_job_older_than_the_tolerance_is_not_adopted(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    """The window is the gateway's tolerance, no wider: a 20-minute-old lookalike is not ours."""
    use_conn(emu)
    emu.control.seed_job(state="CREATING", voice_name="old", create_time=int((time.time() - 20 * 60) * 1000))
    emu.control.set_faults([{"route": "create_basic_job", "kind": "status", "status": 500, "times": 1}])
    with pytest.raises(VoiceTrainingCreateUnknownError, match="no uncommitted job"):
        VoiceTrainingHook().create_job("basic", voice_name="old")


# ------------------------------------------------------------------------- the task-retry path
def _create_task(tmp_path: Any) -> Any:
    from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator
    from airflow_provider_voicetraining.packages import make_synthetic_package

    package = make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01)
    return CreateVoiceTrainingJobOperator(
        task_id="create",
        edition="basic",
        voice_name="retried",
        training_package=package,
        wait_for_completion=False,
    )


@pytest.mark.parametrize(
    "faults",
    [
        # the job was made but the answer was garbled and the list failed: try 1 cannot tell
        [
            {"route": "create_basic_job", "kind": "malformed", "times": 1},
            {"route": "list_jobs", "kind": "status", "status": 503, "times": 6},
        ],
        # no job was made (the gateway refused): try 2 creates the one job
        [{"route": "create_basic_job", "kind": "status", "status": 503, "times": 1}],
    ],
    ids=["job made, lookup failed", "no job made"],
)
def test_a_retried_task_makes_exactly_one_job(emu, use_conn, tmp_path, faults: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    from tests.test_fault_matrix import RecordingTI

    use_conn(emu, max_retries=2)
    emu.control.set_faults(faults)
    first = RecordingTI()
    with pytest.raises(VoiceTrainingCreateUnknownError):
        _create_task(tmp_path).execute({"ti": first})
    emu.control.clear_faults()
    second = RecordingTI()
    second.try_number = 2
    job_id = _create_task(tmp_path).execute({"ti": second})
    jobs = list(VoiceTrainingHook().list_jobs(voice_name="retried"))
    assert [j.job_id for j in jobs] == [job_id] == [second.xcom["job_id"]]
    assert jobs[0].state != "CREATING"  # uploaded and committed by try 2
    assert len(emu.control.requests(route="create_basic_job")) == (2 if "status" in faults[0]["kind"] else 1)


def test_the_rule_is_written_once_the_same_in_docstring_and_readme() -> None:
    import re
    from pathlib import Path

    def words(text: str) -> str:
        return re.sub(r"\s+", " ", text.replace("``", "`")).strip()

    doc = VoiceTrainingHook.create_job.__doc__ or ""
    rule = words(doc.split("\n\n")[1])
    assert rule.startswith("A create whose outcome is unknown is never sent again.")
    readme = words((Path(__file__).resolve().parents[2] / "docs" / "hook.md").read_text().replace("**", ""))
    assert rule.replace("- ", "") in readme.replace("- ", "")
