"""System-test DAG of the production-shape test: many end users' voices at once, every wait kind.

package -> train (mapped, deferrable create-and-wait: one voice per entry of conf ``trained``)
        -> create (mapped, create only: conf ``created``) -> waits_<mode> -> sense_<mode>
           (mapped sensors in poke, reschedule and deferrable mode) -> results -> result (mapped,
           deferrable result operator on every created job)

and the tasks whose workers the test kills, one DAG each (so the test knows whose upload it holds):
``system_voice_training_production_victim_create``: package -> create_victim (queue ``kill_a``:
deferrable create-and-wait on worker A, through the connection ``metastudio_victim`` whose
timeout outlasts the held upload); ``..._victim_wait``: package -> wait_victim (queue ``kill_b``:
inline create-and-wait on worker B).

Every create-operator try writes ``<task>-<map index>-try-<n>.pid`` (its process, its parent and
its process group) into conf ``pid_dir``, so the test knows what runs where.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_voicetraining.operators.voice_training import (
    CreateVoiceTrainingJobOperator,
    VoiceTrainingJobResultOperator,
)
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))
MODES = ("poke", "reschedule", "deferrable")
#: every task: any of them may be running on a worker the test kills (as in production, where a
#: worker lost mid-task is retried)
RETRIES = {"retries": 3, "retry_delay": timedelta(seconds=1)}


def record_pids(context: Any) -> None:
    """Write this try's process ids where the test looks for them (atomically)."""
    folder = context["params"].get("pid_dir")
    if not folder:
        return
    ti = context["ti"]
    path = os.path.join(folder, f"{ti.task_id}-{ti.map_index}-try-{ti.try_number}.pid")
    with open(f"{path}.tmp", "w") as out:
        json.dump({"task": os.getpid(), "worker": os.getppid(), "group": os.getpgrp()}, out)
    os.replace(f"{path}.tmp", path)


def _common(training_package: Any) -> dict[str, Any]:
    return {
        "edition": "basic",
        "training_package": training_package,
        "poll_interval": POLL_INTERVAL,
        "wait_timeout": 900,
        "on_execute_callback": record_pids,
        **RETRIES,
    }


@task
def package() -> str:
    from airflow_provider_voicetraining.packages import make_synthetic_package

    path = os.path.join(tempfile.mkdtemp(prefix="voice-package-"), "training.zip")
    return make_synthetic_package(path, "basic", seconds=0.01)


with DAG(
    dag_id="system_voice_training_production",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_tasks=64,
    default_args=RETRIES,
    params={
        "trained": Param([], type="array", description="create-and-wait entries (voice_name, app_user_id)"),
        "created": Param([], type="array", description="create-only entries, each with its sensor 'mode'"),
        "pid_dir": Param(None, type=["null", "string"]),
    },
) as dag:

    @task
    def trained(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert params is not None
        return [{"voice_name": e["voice_name"], "app_user_id": e["app_user_id"]} for e in params["trained"]]

    @task
    def created(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert params is not None
        return [{"voice_name": e["voice_name"], "app_user_id": e["app_user_id"]} for e in params["created"]]

    @task
    def waits(job_ids: Any, mode: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The created jobs whose entry asks for a sensor in ``mode``."""
        assert params is not None
        entries = params["created"]
        return [
            {"job_id": job_id, "app_user_id": entry["app_user_id"]}
            for entry, job_id in zip(entries, list(job_ids), strict=True)
            if entry["mode"] == mode
        ]

    @task
    def results(job_ids: Any, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        assert params is not None
        return [
            {"job_id": job_id, "app_user_id": entry["app_user_id"]}
            for entry, job_id in zip(params["created"], list(job_ids), strict=True)
        ]

    common = _common(package())
    CreateVoiceTrainingJobOperator.partial(
        task_id="train", wait_for_completion=True, deferrable=True, **common
    ).expand_kwargs(trained())
    create = CreateVoiceTrainingJobOperator.partial(
        task_id="create", wait_for_completion=False, **common
    ).expand_kwargs(created())
    sensors = [
        VoiceTrainingJobSensor.partial(
            task_id=f"sense_{mode}",
            deferrable=mode == "deferrable",
            mode="reschedule" if mode == "reschedule" else "poke",
            # each reschedule is a new worker try: poke less often
            poke_interval=POLL_INTERVAL * (3 if mode == "reschedule" else 1),
            timeout=900,
            **RETRIES,
        ).expand_kwargs(waits.override(task_id=f"waits_{mode}")(create.output, mode))
        for mode in MODES
    ]
    # after the sensors: each job is done by then, so the result operators return at once
    result_args = results.override(trigger_rule="all_done")(create.output)
    sensors >> result_args
    VoiceTrainingJobResultOperator.partial(
        task_id="result", deferrable=True, poll_interval=POLL_INTERVAL, fail_on_job_failure=False, **RETRIES
    ).expand_kwargs(result_args)

for victim, inline in (("create", False), ("wait", True)):
    with DAG(
        dag_id=f"system_voice_training_production_victim_{victim}",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        default_args=RETRIES,
        params={
            "voice_name": Param(f"victim-{victim}", type="string", minLength=1),
            "pid_dir": Param(None, type=["null", "string"]),
        },
    ):
        CreateVoiceTrainingJobOperator(
            task_id=f"{victim}_victim",
            voice_name="{{ params.voice_name }}",
            app_user_id="victim-user",
            # the held upload of the create victim outlasts the default connection's timeout
            metastudio_conn_id="metastudio_default" if inline else "metastudio_victim",
            wait_for_completion=True,
            deferrable=not inline,
            queue="kill_b" if inline else "kill_a",
            priority_weight=1000,
            **_common(package.override(queue="kill_b" if inline else "kill_a", priority_weight=1000)()),
        )
