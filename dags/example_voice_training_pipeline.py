"""Create a custom voice, wait for its training in the triggerer, then use the voice.

prepare_training_package (setup) -> create_voice_job -> remove_generated_package (teardown)
                                    create_voice_job -> wait_for_voice (deferrable) -> use_voice
                                        -> describe_voice_asset

A generated package lives in a temporary folder of its own; the teardown task removes it once
the job has it (uploaded, or failed), whatever the outcome: no run leaves files behind. A
package you give is never removed.

The last task reads the trained voice from MetaStudio's asset library (``ShowAsset``), an API
the provider has no typed method for, through the hook's signed ``requests`` session
(``VoiceTrainingHook.get_conn()``).

Runs unchanged against the local emulator (``make demo``) or the real MetaStudio: only the
``metastudio_default`` connection differs (see docs/connection.md). Trigger it with a config to train
from your own recordings::

    airflow dags trigger example_voice_training_pipeline \\
        -c '{"voice_name": "shop-narrator", "training_package": "/data/voices/shop.zip"}'

Without ``training_package`` a small synthetic package is generated (fine for the emulator;
the real service would reject tones as training data).
"""

from __future__ import annotations

import logging
import os
import tempfile

import pendulum
from airflow.sdk import DAG, Param, task, teardown

from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor
from airflow_provider_voicetraining.vocabulary import EDITIONS

#: Training takes hours: poll every minute. The demo and tests set a short interval.
POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))

#: the temporary folders of generated packages start with this (the teardown removes only those)
GENERATED = "voice-package-"

#: task log lines (print() output would land in the log's collapsed "Post Execute" group)
log = logging.getLogger(__name__)

with DAG(
    dag_id="example_voice_training_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "metastudio", "voice-training"],
    # Every param triggers from the UI form as it stands: required ones have a valid default, and
    # the one that may stay empty is nullable (a "string" param with "" counts as missing there).
    params={
        "voice_name": Param("demo-narrator", type="string", minLength=1, maxLength=256),
        "edition": Param("basic", type="string", enum=list(EDITIONS)),
        "training_package": Param(
            None, type=["null", "string"], description="Local zip path; empty: a synthetic package"
        ),
    },
) as dag:

    @task
    def prepare_training_package(params: dict | None = None) -> str:  # type: ignore[type-arg]
        """Return the package path: the given one, or a freshly generated synthetic package."""
        from airflow_provider_voicetraining.packages import make_synthetic_package, validate_package

        assert params is not None
        given = params["training_package"]
        if given:
            return validate_package(given, params["edition"]).path
        path = os.path.join(tempfile.mkdtemp(prefix=GENERATED), "training.zip")
        return make_synthetic_package(path, params["edition"])

    @teardown
    def remove_generated_package(path: str | None, params: dict | None = None) -> None:  # type: ignore[type-arg]
        """Remove the temporary folder of a generated package (never a package you gave)."""
        import shutil

        assert params is not None
        folder = os.path.dirname(path) if path else ""
        if params["training_package"] or not os.path.basename(folder).startswith(GENERATED):
            return
        shutil.rmtree(folder, ignore_errors=True)
        log.info(f"Removed the generated package {path}")

    package = prepare_training_package()

    # [START howto_operator_create_voice_training_job]
    create_voice_job = CreateVoiceTrainingJobOperator(
        task_id="create_voice_job",
        edition="{{ params.edition }}",
        voice_name="{{ params.voice_name }}",
        training_package=package,
        sex="FEMALE",
        language="CN",
        tag="ECOMMERCE",
        description="Trained by the example_voice_training_pipeline DAG",
        wait_for_completion=False,
    )
    # [END howto_operator_create_voice_training_job]

    package >> create_voice_job >> remove_generated_package(package).as_teardown(setups=package)

    # [START howto_sensor_voice_training_job]
    wait_for_voice = VoiceTrainingJobSensor(
        task_id="wait_for_voice",
        job_id=create_voice_job.output,
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=3 * 24 * 3600,
    )
    # [END howto_sensor_voice_training_job]

    @task
    def use_voice(job: dict) -> str:  # type: ignore[type-arg]
        """Downstream use of the trained voice: here, log the asset id a TTS job would use."""
        asset_id = job["asset_id"]
        log.info(f"Voice {job['voice_name']!r} is ready: asset_id={asset_id}")
        return str(asset_id)

    # [START howto_hook_get_conn]
    @task
    def describe_voice_asset(asset_id: str) -> dict:  # type: ignore[type-arg]
        """Read the voice's asset (ShowAsset) through the hook's authenticated requests session."""
        from urllib.parse import quote

        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

        with VoiceTrainingHook() as hook:  # closing the hook closes its session
            session = hook.get_conn()  # signed (or token) calls; paths relative to the endpoint
            response = session.get(
                f"/v1/{hook.settings.project_id}/digital-assets/{quote(asset_id, safe='')}"
            )
            response.raise_for_status()  # the session does not retry or raise: the caller decides
            asset = response.json()
        summary = {key: asset.get(key) for key in ("asset_id", "asset_name", "asset_type", "asset_state")}
        log.info(f"Voice asset: {summary}")
        return summary

    # [END howto_hook_get_conn]

    describe_voice_asset(use_voice(wait_for_voice.output))  # type: ignore[arg-type]
