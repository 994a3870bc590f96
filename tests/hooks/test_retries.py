"""Retries, back-off, Retry-After, reconciliation of retried writes, clock skew and lockout,
driven through the emulator's fault injection (sync and async paths)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from airflow_provider_voicetraining.errors import (
    VoiceTrainingAPIError,
    VoiceTrainingAuthError,
    VoiceTrainingError,
    VoiceTrainingResponseError,
    VoiceTrainingServerError,
    VoiceTrainingThrottledError,
    VoiceTrainingTransportError,
)
from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

JOB = {"state": "WAITING", "voice_name": "retry-me"}


def statuses(emu, route: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [r["status"] for r in emu.control.requests(route=route)]


def seeded_job(emu) -> str:  # type: ignore[no-untyped-def]
    return emu.control.seed_job(**JOB)["job_id"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------- sync path
def test_throttle_burst_is_retried_honouring_retry_after(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = seeded_job(emu)
    emu.control.set_faults(
        [{"route": "show_job", "kind": "throttle", "retry_after": 0.2, "times": 1, "burst": 1}]
    )
    started = time.monotonic()
    assert VoiceTrainingHook().get_job(job_id).state == "WAITING"
    assert time.monotonic() - started >= 0.4  # two waits of at least Retry-After
    assert statuses(emu, "show_job") == [429, 429, 200]


@pytest.mark.parametrize("kind", ["status", "drop", "malformed"])
def test_transient_faults_on_reads_are_retried(emu, use_conn, kind: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "show_job", "kind": kind, "times": 2}])
    hook = VoiceTrainingHook()
    assert hook.get_job(job_id).voice_name == "retry-me"
    assert len(emu.control.requests(route="show_job")) == 3


def test_retries_are_bounded(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=3)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "show_job", "kind": "status", "status": 502}])
    with pytest.raises(VoiceTrainingServerError) as info:
        VoiceTrainingHook().get_job(job_id)
    assert info.value.status_code == 502 and info.value.attempts == 4
    assert statuses(emu, "show_job") == [502] * 4
    assert "4 attempts" in str(info.value)


def test_throttling_that_never_ends_is_reported(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=2)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "show_job", "kind": "throttle", "retry_after": 0.01}])
    with pytest.raises(VoiceTrainingThrottledError) as info:
        VoiceTrainingHook().get_job(job_id)
    # 429s draw on the call's one retry budget: 1 + max_retries attempts, counted honestly
    assert info.value.error_code in ("APIGW.0308", "APIG.0308") and info.value.attempts == 3
    assert "3 attempts" in str(info.value)
    assert statuses(emu, "show_job") == [429] * 3


def test_malformed_bodies_that_persist_raise_a_response_error(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=1)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "show_job", "kind": "malformed"}])
    with pytest.raises(VoiceTrainingResponseError, match="does not match the API"):
        VoiceTrainingHook().get_job(job_id)


def test_unanswered_create_that_made_no_job_is_not_sent_again(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.errors import VoiceTrainingCreateUnknownError

    use_conn(emu)
    emu.control.set_faults([{"route": "create_basic_job", "kind": "status", "status": 500, "times": 1}])
    hook = VoiceTrainingHook()
    with pytest.raises(VoiceTrainingCreateUnknownError, match="was not sent again") as info:
        hook.create_job("basic", voice_name="second-try")
    assert statuses(emu, "create_basic_job") == [500]
    assert len(emu.control.requests(route="list_jobs")) == 1  # looked, found nothing, stopped
    assert info.value.voice_name == "second-try" and info.value.job_ids == ()
    assert list(hook.list_jobs(voice_name="second-try")) == []


def test_unanswered_create_that_made_a_job_adopts_it(emu, use_conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    emu.control.set_faults([{"route": "create_basic_job", "kind": "drop", "times": 1}])
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="lost-answer")
    assert len(emu.control.requests(route="create_basic_job")) == 1  # never sent twice
    assert [j.job_id for j in hook.list_jobs(voice_name="lost-answer")] == [created.job_id]
    # the adopted job comes with working upload URLs
    url = created.upload_urls.training_data_uploading_url
    assert url is not None
    hook.upload_training_data(url, make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01))
    hook.commit_job(created.job_id)


def test_unanswered_create_with_several_candidates_does_not_guess(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    hook = VoiceTrainingHook()
    hook.create_job("basic", voice_name="twin")  # someone else's, moments ago
    emu.control.set_faults([{"route": "create_basic_job", "kind": "drop", "times": 1}])
    with pytest.raises(VoiceTrainingError, match="refusing to guess"):
        hook.create_job("basic", voice_name="twin")


def test_create_that_surely_failed_is_not_reconciled(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_conn(emu, endpoint=f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(VoiceTrainingTransportError) as info:
        VoiceTrainingHook().create_job("basic", voice_name="refused")
    assert info.value.may_have_reached is False and info.value.attempts == 2


def test_create_is_retried_when_throttled(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    emu.control.set_faults(
        [{"route": "create_basic_job", "kind": "throttle", "retry_after": 0.01, "times": 1}]
    )
    hook = VoiceTrainingHook()
    job_id = hook.create_job("basic", voice_name="throttled-create").job_id
    assert statuses(emu, "create_basic_job") == [429, 200]
    assert [j.job_id for j in hook.list_jobs(voice_name="throttled-create")] == [job_id]


def test_retried_commit_whose_first_attempt_went_through_succeeds(emu, use_conn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="commit-once")
    package = make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01)
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    emu.control.set_faults([{"route": "commit_job", "kind": "drop", "times": 1}])
    hook.commit_job(created.job_id)  # attempt 1 commits but the answer is lost; attempt 2 gets 400
    assert statuses(emu, "commit_job")[-1] == 400
    assert hook.get_job(created.job_id).state != "CREATING"


def test_retried_commit_that_meets_the_failed_audit_of_its_first_attempt_succeeds(
    emu, use_conn, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name="auditfail-commit-once")
    package = make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01)
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    # attempt 1 commits, its answer is lost; the retry reaches the service a second later, when
    # the emulated audit (a fraction of that at this time scale) has failed: AUDIT_FAILED again
    emu.control.set_faults(
        [
            {"route": "commit_job", "kind": "latency", "after": 1, "min_delay": 1.0, "max_delay": 1.0},
            {"route": "commit_job", "kind": "drop", "times": 1},
        ]
    )
    hook.commit_job(created.job_id)
    assert statuses(emu, "commit_job")[-1] == 400
    assert hook.get_job(created.job_id).state == "AUDIT_FAILED"


@pytest.mark.parametrize("process", [True, False], ids=["passed on", "never passed on"])
def test_a_garbled_commit_answer_is_retried_until_the_job_is_committed(  # type: ignore[no-untyped-def]
    emu, use_conn, tmp_path, process: bool
) -> None:
    """A 200 whose body is not the commit's (empty) answer: the gateway may never have passed the
    commit on, and a job left CREATING would keep its wait going until the timeout."""
    from airflow_provider_voicetraining.packages import make_synthetic_package

    use_conn(emu)
    hook = VoiceTrainingHook()
    created = hook.create_job("basic", voice_name=f"garbled-commit-{process}")
    package = make_synthetic_package(tmp_path / "p.zip", "basic", seconds=0.01)
    hook.upload_training_data(created.upload_urls.training_data_uploading_url, package)  # type: ignore[arg-type]
    emu.control.set_faults([{"route": "commit_job", "kind": "malformed", "process": process, "times": 1}])
    hook.commit_job(created.job_id)
    assert statuses(emu, "commit_job") == [200, 400 if process else 200]
    assert hook.get_job(created.job_id).state != "CREATING"
    assert len(emu.control.job(created.job_id)["commits"]) == 1


@pytest.mark.parametrize("process", [True, False], ids=["passed on", "never passed on"])
def test_a_garbled_delete_answer_is_retried_until_the_job_is_gone(emu, use_conn, process: bool) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "delete_job", "kind": "malformed", "process": process, "times": 1}])
    VoiceTrainingHook().delete_job(job_id)
    assert statuses(emu, "delete_job") == [200, 404 if process else 200]
    assert job_id not in {j["job_id"] for j in emu.control.jobs()}


def test_retried_delete_that_finds_nothing_succeeds(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "delete_job", "kind": "drop", "times": 1}])
    VoiceTrainingHook().delete_job(job_id)
    assert statuses(emu, "delete_job")[-1] == 404


def test_token_expiry_mid_wait_is_refreshed(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, "password")
    job_id = seeded_job(emu)
    hook = VoiceTrainingHook()
    hook.get_job(job_id)
    emu.control.set_faults([{"route": "show_job", "kind": "token_expiry", "times": 1}])
    assert hook.get_job(job_id).state == "WAITING"
    assert statuses(emu, "show_job")[-2:] == [401, 200]
    assert len(emu.control.requests(route="iam_tokens")) == 2


def test_connection_refused_is_retried_then_reported(use_conn, emu) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_conn(emu, endpoint=f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(VoiceTrainingTransportError) as info:
        VoiceTrainingHook().get_job("26f06524-4f75-4b3a-a853-b649a21aaf66")
    assert info.value.attempts == 3 and "connect" in str(info.value)


def test_read_timeout_is_retried(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, timeout=0.3)
    job_id = seeded_job(emu)
    emu.control.set_faults(
        [{"route": "show_job", "kind": "latency", "min_delay": 1.0, "max_delay": 1.0, "times": 1}]
    )
    assert VoiceTrainingHook().get_job(job_id).state == "WAITING"


@pytest.mark.parametrize(("offset", "ok"), [(14 * 60, True), (-14 * 60, True), (16 * 60, False)])
def test_clock_skew_limit(emu, use_conn, offset: int, ok: bool) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = seeded_job(emu)
    emu.control.set_clock_offset(offset)
    hook = VoiceTrainingHook()
    if ok:
        assert hook.get_job(job_id).state == "WAITING"
    else:
        with pytest.raises(VoiceTrainingAuthError, match="clock"):
            hook.get_job(job_id)


def test_repeated_bad_signatures_lock_the_ak(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, password="definitely-the-wrong-secret-key-000")
    job_id = seeded_job(emu)
    bad = VoiceTrainingHook()
    for _ in range(6):
        with pytest.raises(VoiceTrainingAuthError):
            bad.get_job(job_id)
    use_conn(emu)
    with pytest.raises(VoiceTrainingAuthError) as info:
        VoiceTrainingHook().get_job(job_id)
    assert "locked" in str(info.value)
    assert emu.config.access_key not in str(info.value)


def test_non_retryable_4xx_is_sent_once(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    with pytest.raises(VoiceTrainingAPIError) as info:
        VoiceTrainingHook().get_job("26f06524-4f75-4b3a-a853-b649a21aaf66")
    assert info.value.status_code == 404
    assert statuses(emu, "show_job") == [404]


# ------------------------------------------------------------------------------- async path
@pytest.mark.parametrize("kind", ["status", "drop", "malformed", "throttle"])
async def test_async_path_retries_the_same_way(emu, use_conn, kind: str) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "show_job", "kind": kind, "times": 2, "retry_after": 0.01}])
    async with VoiceTrainingHook() as hook:
        job = await hook.aget_job(job_id)
        assert job.voice_name == "retry-me"
        log = emu.control.requests(route="show_job")
        assert len(log) == 3, [(r["status"], r["fault"], r["request_id"], r["time"]) for r in log]


async def test_async_create_is_not_repeated_and_4xx_not_retried(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu, max_retries=2)
    job_id = seeded_job(emu)
    emu.control.set_faults([{"route": "show_job", "kind": "status", "status": 503}])
    async with VoiceTrainingHook() as hook:
        with pytest.raises(VoiceTrainingServerError) as info:
            await hook.aget_job(job_id)
    assert info.value.attempts == 3 and statuses(emu, "show_job") == [503] * 3


async def test_async_token_refresh_is_single_flight(emu, use_conn) -> None:  # type: ignore[no-untyped-def]

    use_conn(emu, "password")
    job_ids = [seeded_job(emu) for _ in range(20)]

    async def one(job_id: str) -> str:
        async with VoiceTrainingHook() as hook:
            return (await hook.aget_job(job_id)).state

    assert await asyncio.gather(*(one(j) for j in job_ids)) == ["WAITING"] * 20
    assert emu.control.stats()["tokens_issued"] == 1
    assert len(emu.control.requests(route="iam_tokens")) == 1
