"""System-test DAG: a non-deferrable create-and-wait task whose worker the test kills mid-wait.

prepare_package -> create_and_wait (inline wait in the worker, retries=3)

``create_and_wait`` writes ``try-<n>.pid`` (its task process and that process's parent, the
executor's worker that supervises it) into the folder given as conf ``pid_dir``, just before
``execute`` runs, so the test knows which processes to SIGKILL.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator

POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))


def record_pids(context: Any) -> None:
    """Write this try's process ids where the test looks for them (atomically)."""
    folder = context["params"].get("pid_dir")
    if not folder:
        return
    path = os.path.join(folder, f"try-{context['ti'].try_number}.pid")
    with open(f"{path}.tmp", "w") as out:
        json.dump({"task": os.getpid(), "worker": os.getppid()}, out)
    os.replace(f"{path}.tmp", path)


with DAG(
    dag_id="system_voice_training_retries",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "voice_name": Param("system-kill", type="string", minLength=1),
        "pid_dir": Param(None, type=["null", "string"]),
    },
) as dag:

    @task
    def prepare_package() -> str:
        from airflow_provider_voicetraining.packages import make_synthetic_package

        path = os.path.join(tempfile.mkdtemp(prefix="voice-package-"), "training.zip")
        return make_synthetic_package(path, "basic", seconds=0.01)

    CreateVoiceTrainingJobOperator(
        task_id="create_and_wait",
        edition="basic",
        voice_name="{{ params.voice_name }}",
        training_package=prepare_package(),
        wait_for_completion=True,
        deferrable=False,
        poll_interval=POLL_INTERVAL,
        wait_timeout=600,
        # one for the kill, and room for Airflow 3.0.6's worker-start race (see cluster.py)
        retries=3,
        retry_delay=timedelta(seconds=1),
        on_execute_callback=record_pids,
    )
