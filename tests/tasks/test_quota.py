"""``utils/quota``: which counter an edition draws on, and the error when none is left."""

from __future__ import annotations

import logging
import time

import pytest

from airflow_provider_voicetraining._tasks.quota import require_quota
from airflow_provider_voicetraining._wire.vocabulary import EDITIONS, QUOTA_KEYS
from airflow_provider_voicetraining.errors import VoiceTrainingQuotaError

LOG = logging.getLogger("test_quota")


def test_each_edition_has_a_documented_counter() -> None:
    for edition in EDITIONS.values():
        assert edition.quota_key_for(False) in QUOTA_KEYS
        assert edition.quota_key_for(True) in (*QUOTA_KEYS, None)
    assert EDITIONS["middle"].quota_key_for(True) == "middle_on_demand"


@pytest.mark.parametrize(
    ("edition", "on_demand", "counter"),
    [
        ("basic", False, "basic"),
        ("middle", True, "middle_on_demand"),
        ("third_party", False, "third_party_cmww"),
    ],
)
def test_none_left_names_the_edition_counter_and_fix(
    hook, emu, edition: str, on_demand: bool, counter: str
) -> None:  # type: ignore[no-untyped-def]
    assert (
        require_quota(
            hook, EDITIONS[edition], on_demand=on_demand, wait_timeout=None, poll_interval=0.1, log=LOG
        )
        == 100
    )
    emu.control.set_quotas(**{counter: 0})
    with pytest.raises(VoiceTrainingQuotaError) as caught:
        require_quota(
            hook, EDITIONS[edition], on_demand=on_demand, wait_timeout=None, poll_interval=0.1, log=LOG
        )
    error = caught.value
    assert (error.edition, error.quota_key, error.available) == (edition, counter, 0)
    message = str(error)
    assert (
        f"No {edition} voice-training quota left" in message
        and f"resource_available_nums.{counter}" in message
    )
    assert "no job was created" in message and "Fix:" in message and "quota_wait_timeout" in message


def test_a_bounded_wait_then_the_error(hook, emu) -> None:  # type: ignore[no-untyped-def]
    emu.control.set_quotas(advance=0)
    started = time.monotonic()
    with pytest.raises(VoiceTrainingQuotaError, match="after waiting 1s"):
        require_quota(
            hook, EDITIONS["advance"], on_demand=False, wait_timeout=0.6, poll_interval=0.2, log=LOG
        )
    assert time.monotonic() - started >= 0.6  # it waited its whole timeout
    # polled every 0.2 s at most (a slow machine polls less often, never more)
    assert 1 <= len(emu.control.requests(route="show_quotas")) <= 5


def test_uncounted_pay_per_use_is_not_checked(hook, emu) -> None:  # type: ignore[no-untyped-def]
    assert (
        require_quota(hook, EDITIONS["basic"], on_demand=True, wait_timeout=None, poll_interval=0.1, log=LOG)
        is None
    )
    assert emu.control.requests(route="show_quotas") == []
