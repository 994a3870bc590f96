"""Quota first: check that the tenant has a training left before a job is created (or committed).

``GET P/quotas`` reports ``resource_available_nums`` per counter; an edition's counter is
``Edition.quota_key_for(on_demand)`` (``vocabulary.EDITIONS``). No training left fails the task
with :class:`~airflow_provider_voicetraining.errors.VoiceTrainingQuotaError` before anything is
created, unless the task asked to wait for one (``quota_wait_timeout``). The check is advisory:
mapped tasks checking at the same moment can all see the last training, and the service then
refuses the surplus commits (the create operator deletes or keeps those jobs as for any failed
commit).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining._wire.errors import VoiceTrainingQuotaError

if TYPE_CHECKING:
    from airflow_provider_voicetraining._wire.vocabulary import Edition
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook


def require_quota(
    hook: VoiceTrainingHook,
    edition: Edition,
    *,
    on_demand: bool,
    wait_timeout: float | None,
    poll_interval: float,
    log: Any,
) -> int | None:
    """Return the trainings left for ``edition`` (``None``: not counted or not reported).

    Raises :class:`VoiceTrainingQuotaError` when none is left (after waiting up to
    ``wait_timeout`` seconds for one, if given).
    """
    key = edition.quota_key_for(on_demand)
    if key is None:
        log.info("Pay-per-use %s jobs draw on no quota counter; not checking", edition.name)
        return None
    deadline = time.monotonic() + (wait_timeout or 0.0)
    while True:
        left = hook.get_quotas().available.get(key)
        if left is None:
            log.warning(
                "The quota answer has no %r counter; creating the %s job unchecked", key, edition.name
            )
            return None
        if left > 0:
            log.info("%d %s training(s) left (quota counter %s)", left, edition.name, key)
            return left
        remaining = deadline - time.monotonic()
        if wait_timeout is None or remaining <= 0:
            waited = f" after waiting {wait_timeout:.0f}s" if wait_timeout else ""
            raise VoiceTrainingQuotaError(
                f"No {edition.name} voice-training quota left{waited} (resource_available_nums.{key} = 0 in "
                f"project {hook.settings.project_id}); no job was created. Fix: buy or free a "
                f"{edition.name} training package in the MetaStudio console, wait for one with "
                "quota_wait_timeout, or train another edition",
                edition=edition.name,
                quota_key=key,
                available=left,
            )
        log.info("No %s training left (%s = 0); checking again in %.0fs", edition.name, key, poll_interval)
        time.sleep(min(poll_interval, remaining))
