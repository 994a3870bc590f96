"""System-test DAGs: one per Auth type choice of the connection form, each collecting a job
through the connection a browser test added with that choice (``metastudio_form_<choice>``), the
wait deferred to the real triggerer, so task and trigger logs both use the connection."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG

from airflow_provider_voicetraining.operators.voice_training import VoiceTrainingJobResultOperator

POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))
#: the form's Auth type choices, as connection-id suffixes (tests/system/test_browser.py)
CHOICES = ("aksk", "password", "token")

for choice in CHOICES:
    with DAG(
        dag_id=f"system_form_connection_{choice}",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        params={"job_id": "unset"},
    ) as dag:
        VoiceTrainingJobResultOperator(
            task_id="collect",
            metastudio_conn_id=f"metastudio_form_{choice}",
            job_id="{{ params.job_id }}",
            deferrable=True,
            poll_interval=POLL_INTERVAL,
            wait_timeout=600,
            asset_alias=None,
        )
    globals()[dag.dag_id] = dag
