"""DAGs the tests run with ``dag.test()``: each operator and sensor mode, parametrized by conf."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_voicetraining.operators.voice_training import (
    CreateVoiceTrainingJobOperator,
    VoiceTrainingJobResultOperator,
)
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
HARD_FAILURES = ["FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"]


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False, params={"job_id": "unset"})


SENSOR_VARIANTS: dict[str, dict[str, object]] = {
    "": {"timeout": 30},
    "_soft": {"timeout": 2, "soft_fail": True},
    "_waits_for_review": {"timeout": 2, "failure_states": HARD_FAILURES},
}
for mode in ("poke", "reschedule", "deferrable"):
    for suffix, options in SENSOR_VARIANTS.items():
        with _dag(f"t_sensor_{mode}{suffix}") as dag:
            VoiceTrainingJobSensor(
                task_id="wait",
                job_id="{{ params.job_id }}",
                mode="reschedule" if mode == "reschedule" else "poke",
                deferrable=mode == "deferrable",
                poke_interval=0.2,
                **options,  # type: ignore[arg-type]
            )
        globals()[dag.dag_id] = dag

for deferrable in (True, False):
    suffix = "deferrable" if deferrable else "inline"
    for fail in (True, False):
        dag_id = f"t_result_{suffix}_{'fail' if fail else 'report'}"
        with _dag(dag_id) as dag:
            VoiceTrainingJobResultOperator(
                task_id="result",
                job_id="{{ params.job_id }}",
                deferrable=deferrable,
                poll_interval=0.2,
                wait_timeout=30,
                fail_on_job_failure=fail,
            )
        globals()[dag_id] = dag

    with _dag(f"t_result_{suffix}_timeout") as dag:
        VoiceTrainingJobResultOperator(
            task_id="result",
            job_id="{{ params.job_id }}",
            deferrable=deferrable,
            poll_interval=0.2,
            wait_timeout=1,
        )
    globals()[dag.dag_id] = dag

    for on_abort in ("leave", "delete"):
        with DAG(
            dag_id=f"t_create_{suffix}_{on_abort}",
            schedule=None,
            start_date=START,
            catchup=False,
            params={"package": "", "voice_name": "created-by-test", "edition": "basic", "wait_timeout": 30},
        ) as dag:
            CreateVoiceTrainingJobOperator(
                task_id="create",
                edition="{{ params.edition }}",
                voice_name="{{ params.voice_name }}",
                training_package="{{ params.package }}",
                wait_for_completion=True,
                deferrable=deferrable,
                poll_interval=0.2,
                wait_timeout=30 if on_abort == "leave" else 1,
                # the delete variants wait through USER_RESULT_REVIEW so that they time out
                failure_states=None if on_abort == "leave" else HARD_FAILURES,
                on_abort=on_abort,
            )
        globals()[dag.dag_id] = dag

with _dag("t_result_nowait") as dag:
    VoiceTrainingJobResultOperator(task_id="result", job_id="{{ params.job_id }}", wait_for_completion=False)

with DAG(
    dag_id="t_create_nowait",
    schedule=None,
    start_date=START,
    catchup=False,
    params={"package": "", "voice_name": "created-by-test", "edition": "basic"},
) as dag:
    CreateVoiceTrainingJobOperator(
        task_id="create",
        edition="{{ params.edition }}",
        voice_name="{{ params.voice_name }}",
        training_package="{{ params.package }}",
        app_user_id="tenant-9",
    )
