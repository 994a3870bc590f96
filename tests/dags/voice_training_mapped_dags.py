"""Mapped DAGs the tests run with ``dag.test()``: every operator and the sensor with
``partial``/``expand``/``expand_kwargs`` and inside a mapped task group, deferrable and not.

Conf ``package`` (a basic training zip), ``voices`` (voice names, one mapped instance each) and
``job_ids`` (existing jobs for the result operator and the sensor).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task, task_group

from airflow_provider_voicetraining.operators.voice_assessment import AssessVoiceRecordingsOperator
from airflow_provider_voicetraining.operators.voice_training import (
    CreateVoiceTrainingJobOperator,
    VoiceTrainingJobResultOperator,
)
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")
PARAMS = {"package": "", "voices": ["map-a", "map-b"], "job_ids": []}
FAST = {"poll_interval": 0.2, "wait_timeout": 30}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False, params=PARAMS)


@task
def users(params: dict | None = None) -> list[dict[str, str]]:  # type: ignore[type-arg]
    """One set of create arguments per end user: their voice, their X-App-UserId, the package."""
    assert params is not None
    return [
        {"voice_name": voice, "app_user_id": f"user-{voice}", "training_package": params["package"]}
        for voice in params["voices"]
    ]


@task
def job_ids(params: dict | None = None) -> list[str]:  # type: ignore[type-arg]
    assert params is not None
    return list(params["job_ids"])


@task
def packages(params: dict | None = None) -> list[str]:  # type: ignore[type-arg]
    assert params is not None
    return [params["package"]] * len(params["voices"])


with _dag("t_mapped_create") as dag:
    specs = users()
    for deferrable in (True, False):
        CreateVoiceTrainingJobOperator.partial(
            task_id=f"create_{'deferrable' if deferrable else 'inline'}",
            edition="basic",
            wait_for_completion=True,
            deferrable=deferrable,
            **FAST,
        ).expand_kwargs(specs)
    CreateVoiceTrainingJobOperator.partial(
        task_id="create_nowait", edition="basic", training_package="{{ params.package }}"
    ).expand(voice_name=["{{ params.voices[0] }}-nowait", "{{ params.voices[1] }}-nowait"])

with _dag("t_mapped_wait") as dag:
    ids = job_ids()
    for deferrable in (True, False):
        style = "deferrable" if deferrable else "inline"
        VoiceTrainingJobResultOperator.partial(
            task_id=f"result_{style}", deferrable=deferrable, **FAST
        ).expand(job_id=ids)
        VoiceTrainingJobSensor.partial(
            task_id=f"sensor_{style}", deferrable=deferrable, poke_interval=0.2, timeout=30
        ).expand(job_id=ids)
    VoiceTrainingJobSensor.partial(
        task_id="sensor_reschedule", mode="reschedule", poke_interval=0.2, timeout=30
    ).expand(job_id=ids)

with _dag("t_mapped_assess") as dag:
    for deferrable in (True, False):
        AssessVoiceRecordingsOperator.partial(
            task_id=f"assess_{'deferrable' if deferrable else 'inline'}", deferrable=deferrable, **FAST
        ).expand(package=packages())

with _dag("t_mapped_group") as dag:

    @task_group
    def per_user(voice_name: str) -> None:
        """Create (no wait) -> sensor (deferrable) and result operator (inline), per user."""
        created = CreateVoiceTrainingJobOperator(
            task_id="create", edition="basic", voice_name=voice_name, training_package="{{ params.package }}"
        )
        VoiceTrainingJobSensor(task_id="wait", job_id=created.output, deferrable=True, poke_interval=0.2)
        VoiceTrainingJobResultOperator(task_id="result", job_id=created.output, deferrable=False, **FAST)

    @task
    def voices(params: dict | None = None) -> list[str]:  # type: ignore[type-arg]
        assert params is not None
        return list(params["voices"])

    per_user.expand(voice_name=voices())
