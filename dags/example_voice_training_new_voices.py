"""Runs for every new voice: scheduled on the ``metastudio_voices`` asset alias.

The sensor and the operators emit an asset event ``metastudio://<region>/<project_id>/voices/<asset_id>``
through the alias when a voice is trained (extra: ``asset_id``, ``job_id``, ``voice_name``,
``app_user_id``). Each run of this DAG gets those events and, for each voice, checks it against
the service (the job is ``SUCCEED`` with that ``asset_id``) and writes a catalogue entry: where a
real deployment would render a TTS sample with the voice or announce it to its users.
"""

from __future__ import annotations

import logging

import pendulum
from airflow.sdk import DAG, AssetAlias, task

from airflow_provider_voicetraining.assets import VOICE_ALIAS

voices = AssetAlias(VOICE_ALIAS)

#: task log lines (print() output would land in the log's collapsed "Post Execute" group)
log = logging.getLogger(__name__)

# [START howto_asset_alias_schedule]
with DAG(
    dag_id="example_voice_training_new_voices",
    schedule=[voices],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "metastudio", "voice-training"],
) as dag:

    @task(inlets=[voices])
    def catalogue_new_voices(**context) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
        """One catalogue entry per new voice, each confirmed with the service."""
        from airflow_provider_voicetraining.assets import triggering_alias_events
        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

        entries = []
        with VoiceTrainingHook() as hook:
            for event in triggering_alias_events(context, voices):
                extra = event.extra
                job = hook.get_job(extra["job_id"], app_user_id=extra.get("app_user_id"))
                if job.state != "SUCCEED" or job.asset_id != extra["asset_id"]:
                    raise ValueError(
                        f"{event.asset.uri}: job {job.job_id} is {job.state}, asset {job.asset_id}"
                    )
                log.info(f"New voice {job.voice_name!r}: {event.asset.uri} (job {job.job_id})")
                entries.append(
                    {
                        "uri": event.asset.uri,
                        "voice_name": job.voice_name,
                        "asset_id": job.asset_id,
                        "job_id": job.job_id,
                    }
                )
        return entries

    catalogue_new_voices()
# [END howto_asset_alias_schedule]
