"""DAGs for the gates before paying: the recording check and the quota check.

Conf ``package`` (for the check: a zip of .wav recordings; for the quota DAGs: a basic training zip)
and ``voice_name``.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_voicetraining.operators.voice_assessment import AssessVoiceRecordingsOperator
from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
PARAMS = {"package": "", "voice_name": "gated"}
#: a retry is allowed: the tests prove that rejected recordings are not retried
RETRY = {"retries": 1, "retry_delay": timedelta(0)}

for deferrable in (True, False):
    with DAG(
        f"t_assess_{'deferrable' if deferrable else 'inline'}", schedule=None, start_date=START, params=PARAMS
    ) as dag:
        AssessVoiceRecordingsOperator(
            task_id="assess",
            package="{{ params.package }}",
            deferrable=deferrable,
            poll_interval=0.2,
            **RETRY,
        )
        AssessVoiceRecordingsOperator(
            task_id="assess_report",
            package="{{ params.package }}",
            deferrable=deferrable,
            poll_interval=0.2,
            fail_on_bad_recordings=False,
            language="EN",
        )
    globals()[dag.dag_id] = dag


def _create(task_id: str, **options: object) -> CreateVoiceTrainingJobOperator:
    return CreateVoiceTrainingJobOperator(
        task_id=task_id,
        edition="basic",
        voice_name="{{ params.voice_name }}",
        training_package="{{ params.package }}",
        poll_interval=0.2,
        **options,  # type: ignore[arg-type]
    )


with DAG("t_quota", schedule=None, start_date=START, params=PARAMS) as dag:
    _create("create", **RETRY)

with DAG("t_quota_wait", schedule=None, start_date=START, params=PARAMS) as dag:
    _create("create", quota_wait_timeout=30)

with DAG("t_quota_off", schedule=None, start_date=START, params=PARAMS) as dag:
    _create("create", check_quota=False)
