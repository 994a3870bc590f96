"""System-test DAG: the other auth modes, all waiting in the real triggerer.

prepare_package -> create_and_wait   (IAM password, deferrable create that waits for the result)
                -> create_only -> wait_for_voice  (IAM password, deferrable sensor)
                               -> collect_result  (permanent AK/SK, deferrable result operator)

``metastudio_password`` makes the worker and the triggerer mint IAM tokens, which the secrets scan
must not find anywhere; ``metastudio_aksk`` puts the permanent AK/SK to use next to the temporary
ones of ``metastudio_default`` (used by the example DAGs).
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_voicetraining.operators.voice_training import (
    CreateVoiceTrainingJobOperator,
    VoiceTrainingJobResultOperator,
)
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))

with DAG(
    dag_id="system_voice_training_auth_modes",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"voice_name": Param("system-auth-modes", type="string", minLength=1)},
) as dag:

    @task
    def prepare_package() -> str:
        from airflow_provider_voicetraining.packages import make_synthetic_package

        path = os.path.join(tempfile.mkdtemp(prefix="voice-package-"), "training.zip")
        return make_synthetic_package(path, "basic", seconds=0.01)

    package = prepare_package()

    create_and_wait = CreateVoiceTrainingJobOperator(
        task_id="create_and_wait",
        metastudio_conn_id="metastudio_password",
        edition="basic",
        voice_name="{{ params.voice_name }}",
        training_package=package,
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        wait_timeout=600,
    )

    create_only = CreateVoiceTrainingJobOperator(
        task_id="create_only",
        metastudio_conn_id="metastudio_password",
        edition="basic",
        voice_name="{{ params.voice_name }}",
        training_package=package,
        wait_for_completion=False,
    )

    wait_for_voice = VoiceTrainingJobSensor(
        task_id="wait_for_voice",
        metastudio_conn_id="metastudio_password",
        job_id=create_only.output,
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=600,
    )

    collect_result = VoiceTrainingJobResultOperator(
        task_id="collect_result",
        metastudio_conn_id="metastudio_aksk",
        job_id=create_only.output,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        wait_timeout=600,
        # wait_for_voice reports this voice's asset event; a second task reporting the same new
        # asset at the same moment races in Airflow's dynamic asset creation (UNIQUE constraint
        # on asset name/uri: the api-server fails one of the two tasks)
        asset_alias=None,
    )

    create_only >> [wait_for_voice, collect_result]
