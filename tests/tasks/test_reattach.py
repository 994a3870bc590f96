"""``utils/reattach``: which earlier job a try adopts, against the emulator's real list and show
endpoints. The decisions of the module docstring, and that nothing foreign is ever adopted: another
task instance's batch, another end user, another voice or edition, a job older than the run."""

from __future__ import annotations

import logging
import re
import time
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._tasks.reattach import (
    STORE_KEY,
    JobSpec,
    Reuse,
    TaskAttempt,
    find_earlier_job,
    remember,
    reuse_of,
)
from airflow_provider_voicetraining._wire.models import VoiceTrainingJob
from airflow_provider_voicetraining._wire.states import JobState
from airflow_provider_voicetraining._wire.vocabulary import TEXT_LIMITS
from airflow_provider_voicetraining.errors import VoiceTrainingAmbiguousJobError

LOG = logging.getLogger("test_reattach")


class MemoryStore:
    """The task state store's ``get``/``set`` contract (Airflow 3.3's ``TaskStateStoreAccessor``)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


def _attempt(try_number: int = 2, store: Any = None, first_try: int = 1, **ids: Any) -> TaskAttempt:
    fields = {"dag_id": "platform", "task_id": "create", "run_id": "manual__1", "map_index": 3, **ids}
    return TaskAttempt(
        **fields,
        try_number=try_number,
        run_began=time.time() - 60,
        retry_follows=True,
        first_try=first_try,
        store=store,
    )


def _spec(
    attempt: TaskAttempt, batch_name: str | None = None, owners: tuple[str | None, ...] = ("alice",)
) -> JobSpec:
    return JobSpec(
        job_type="BASIC",
        voice_names=("alice-voice",),
        owners=owners,
        batch_name=batch_name or attempt.identity,
        tagged=batch_name is None,
    )


def _seed(emu, attempt: TaskAttempt, state: str = "PROCESSING", **fields: Any) -> str:  # type: ignore[no-untyped-def]
    values = {
        "state": state,
        "voice_name": "alice-voice",
        "app_user_id": "alice",
        "batch_name": attempt.identity,
        "create_time": int(time.time() * 1000),
        "asset_id": "asset-earlier",
        **fields,
    }
    return str(emu.control.seed_job(**values)["job_id"])


def test_identity_is_deterministic_distinct_and_a_valid_batch_name() -> None:
    base = _attempt()
    assert base.identity == _attempt(try_number=5).identity  # the same on every try
    assert re.fullmatch(r"af-[0-9a-f]{24}", base.identity) and len(base.identity) <= TEXT_LIMITS["batch_name"]
    others = {
        _attempt(dag_id="other").identity,
        _attempt(task_id="other").identity,
        _attempt(run_id="manual__2").identity,
        _attempt(map_index=4).identity,
        _attempt(map_index=-1).identity,
    }
    assert base.identity not in others and len(others) == 5


@pytest.mark.parametrize(
    ("state", "on_retry", "after_clear"),
    [
        ("CREATING", Reuse.FINISH, Reuse.FINISH),
        ("AUDIT_FAILED", Reuse.FINISH, Reuse.FINISH),
        ("SYSTEM_AUDITING", Reuse.WAIT, Reuse.WAIT),
        ("PROCESSING", Reuse.WAIT, Reuse.WAIT),
        ("USER_RESULT_REVIEW", Reuse.WAIT, Reuse.WAIT),
        ("SOME_NEW_STATE", Reuse.WAIT, Reuse.WAIT),
        ("SUCCEED", Reuse.DONE, Reuse.DONE),
        ("FAILED", Reuse.REPORT, Reuse.REPLACE),
        ("SPLIT_FAILED", Reuse.REPORT, Reuse.REPLACE),
        ("USER_REVIEW_REJECT", Reuse.REPORT, Reuse.REPLACE),
    ],
)
def test_what_a_later_try_does_with_each_state(state: str, on_retry: Reuse, after_clear: Reuse) -> None:
    job = VoiceTrainingJob(job_id="j", state=state)
    assert (reuse_of(job, retry=True), reuse_of(job, retry=False)) == (on_retry, after_clear)


@pytest.mark.parametrize(
    ("try_number", "first_try", "retry"),
    [(1, 1, False), (2, 1, True), (3, 1, True), (3, 3, False), (4, 3, True)],
    ids=["first", "retry", "second-retry", "first-after-clear", "retry-after-clear"],
)
def test_a_retry_is_a_later_try_of_the_same_series(try_number: int, first_try: int, retry: bool) -> None:
    assert _attempt(try_number=try_number, first_try=first_try).is_retry is retry


@pytest.mark.parametrize(
    ("try_number", "max_tries", "retries", "first"),
    [(1, 3, 3, 1), (2, 3, 3, 1), (4, 3, 3, 1), (3, 5, 3, 3), (4, 5, 3, 3), (2, 1, 0, 2), (2, None, 3, 1)],
    ids=["first", "retry", "beyond", "after-clear", "retry-after-clear", "no-retries", "unknown"],
)
def test_first_try_follows_airflow_max_tries_rule(
    try_number: int, max_tries: Any, retries: int, first: int
) -> None:
    ti = SimpleNamespace(try_number=try_number, max_tries=max_tries, task=SimpleNamespace(retries=retries))
    assert compat.first_try({"ti": ti}) == first


def test_every_documented_state_has_a_decision() -> None:
    decided = {
        reuse_of(VoiceTrainingJob(job_id="j", state=s.value), retry=r)
        for s in JobState
        for r in (True, False)
    }
    assert decided == set(Reuse)


def test_found_by_identity_and_nothing_foreign_is_adopted(emu, hook) -> None:  # type: ignore[no-untyped-def]
    attempt = _attempt()
    spec = _spec(attempt)
    sibling = _attempt(map_index=4)
    old = int((attempt.run_began - 3600) * 1000)  # type: ignore[operator]
    _seed(emu, sibling)  # another mapped instance
    _seed(emu, attempt, app_user_id="bob")  # another end user (same batch: cannot happen, still refused)
    _seed(emu, attempt, voice_name="bob-voice")  # another voice
    _seed(emu, attempt, job_type="MIDDLE")  # another edition
    _seed(emu, attempt, create_time=old)  # made before this run became due (a reused run id)
    _seed(emu, attempt, batch_name="campaign-7")  # no identity
    assert find_earlier_job(hook, attempt, spec, LOG) is None
    ours = _seed(emu, attempt)
    found = find_earlier_job(hook, attempt, spec, LOG)
    assert found is not None and found.job.job_id == ours
    assert (found.reuse, found.found_by, found.owner) == (Reuse.WAIT, "batch_name", "alice")


def test_the_first_try_looks_nowhere_but_the_store(emu, hook) -> None:  # type: ignore[no-untyped-def]
    attempt = _attempt(try_number=1)
    _seed(emu, attempt)
    emu.control.clear_requests()
    assert find_earlier_job(hook, attempt, _spec(attempt), LOG) is None
    assert emu.control.requests() == []


def test_several_jobs_of_one_task_instance_the_best_wins(emu, hook) -> None:  # type: ignore[no-untyped-def]
    attempt = _attempt()
    now = int(time.time() * 1000)
    done = _seed(emu, attempt, state="SUCCEED", create_time=now - 5000)
    _seed(emu, attempt, state="FAILED", create_time=now)  # newer, but failed
    found = find_earlier_job(hook, attempt, _spec(attempt), LOG)
    assert found is not None and (found.job.job_id, found.reuse) == (done, Reuse.DONE)
    emu.control.reset()
    failed = _seed(emu, attempt, state="FAILED")
    found = find_earlier_job(hook, attempt, _spec(attempt), LOG)
    assert found is not None and (found.job.job_id, found.reuse) == (failed, Reuse.REPORT)
    cleared = _attempt(try_number=2, first_try=2)  # the first try after the task was cleared
    found = find_earlier_job(hook, cleared, _spec(cleared), LOG)
    assert found is not None and (found.job.job_id, found.reuse) == (failed, Reuse.REPLACE)


def test_a_job_moved_by_its_commit_is_found_under_its_new_owner(emu, hook) -> None:  # type: ignore[no-untyped-def]
    attempt = _attempt()
    moved = _seed(emu, attempt, app_user_id="carol")
    assert find_earlier_job(hook, attempt, _spec(attempt), LOG) is None
    found = find_earlier_job(hook, attempt, _spec(attempt, owners=("alice", "carol")), LOG)
    assert found is not None and (found.job.job_id, found.owner) == (moved, "carol")


def test_the_task_state_store_names_the_job(emu, hook) -> None:  # type: ignore[no-untyped-def]
    store = MemoryStore()
    attempt = _attempt(try_number=1, store=store)  # the store is read on every try, even the first
    spec = _spec(attempt, batch_name="campaign-7")  # works without the identity in the batch
    job_id = _seed(emu, attempt, state="SUCCEED", batch_name="campaign-7")
    remember(attempt, job_id, "alice", LOG)
    assert store.data[STORE_KEY] == {"job_id": job_id, "app_user_id": "alice", "identity": attempt.identity}
    emu.control.clear_requests()
    found = find_earlier_job(hook, attempt, spec, LOG)
    assert found is not None and (found.job.job_id, found.reuse, found.found_by) == (
        job_id,
        Reuse.DONE,
        "task_state_store",
    )
    assert [r["route"] for r in emu.control.requests()] == ["show_job"]  # one GET, no listing


def test_a_store_record_that_is_gone_or_not_ours_is_not_adopted(emu, hook) -> None:  # type: ignore[no-untyped-def]
    store = MemoryStore()
    attempt = _attempt(try_number=1, store=store)
    store.set(STORE_KEY, {"job_id": "deleted-job", "app_user_id": "alice"})
    assert find_earlier_job(hook, attempt, _spec(attempt), LOG) is None
    other = _seed(emu, attempt, voice_name="bob-voice")
    store.set(STORE_KEY, {"job_id": other, "app_user_id": "alice"})
    assert find_earlier_job(hook, attempt, _spec(attempt), LOG) is None


def test_a_user_batch_name_without_a_store_refuses_committed_lookalikes(emu, hook) -> None:  # type: ignore[no-untyped-def]
    attempt = _attempt(first_try=2)  # after a clear: a failed lookalike would be replaced anyway
    spec = _spec(attempt, batch_name="campaign-7")
    _seed(emu, attempt, state="CREATING", batch_name="campaign-7")  # uncommitted: trains nothing
    failed = _seed(emu, attempt, state="FAILED", batch_name="campaign-7")
    assert find_earlier_job(hook, attempt, spec, LOG) is None
    with pytest.raises(VoiceTrainingAmbiguousJobError, match="cannot prove") as caught:
        find_earlier_job(hook, _attempt(), spec, LOG)  # a retry: it may be its own failed job
    assert caught.value.job_ids == [failed]
    running = _seed(emu, attempt, state="PROCESSING", batch_name="campaign-7")
    with pytest.raises(VoiceTrainingAmbiguousJobError, match="cannot prove") as caught:
        find_earlier_job(hook, attempt, spec, LOG)
    assert caught.value.job_ids == [running]
