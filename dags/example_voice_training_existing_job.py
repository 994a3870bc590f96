"""Collect the result of an existing job and route a failure to whoever must fix the data.

find_job -> get_result (deferrable, fail_on_job_failure=False) -> route -> use_voice | report_failure

Trigger it for a job created elsewhere (the console, another DAG, another system)::

    airflow dags trigger example_voice_training_existing_job -c '{"job_id": "26f06524-..."}'

Without ``job_id`` it collects the project's most recently created job.

A failed job does not fail ``get_result``: its failure details (state, job_failed_code,
job_failed_reason, the audit errors naming the bad recordings) flow to ``report_failure``,
which turns them into a message for the data owners (print it here; send it to your ticket
system or chat in production).
"""

from __future__ import annotations

import logging
import os

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_voicetraining.operators.voice_training import VoiceTrainingJobResultOperator

POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))

#: task log lines (print() output would land in the log's collapsed "Post Execute" group)
log = logging.getLogger(__name__)

with DAG(
    dag_id="example_voice_training_existing_job",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "metastudio", "voice-training"],
    params={
        "job_id": Param(
            None, type=["null", "string"], description="The job to collect; empty: the newest job"
        )
    },
) as dag:

    @task
    def find_job(params: dict | None = None) -> str:  # type: ignore[type-arg]
        """The given job id, or the id of the project's most recently created job."""
        from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

        assert params is not None
        if params.get("job_id"):
            return str(params["job_id"]).strip()
        with VoiceTrainingHook() as hook:
            newest = next(iter(hook.list_jobs(sort_dir="desc", page_size=1, max_items=1)), None)
        if newest is None:
            raise ValueError("The project has no voice-training job yet: trigger with a job_id")
        log.info(f"No job_id given: collecting the newest job {newest.job_id} ({newest.voice_name})")
        return newest.job_id

    # [START howto_operator_voice_training_result]
    get_result = VoiceTrainingJobResultOperator(
        task_id="get_result",
        job_id=find_job(),
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        wait_timeout=3 * 24 * 3600,
        fail_on_job_failure=False,
    )
    # [END howto_operator_voice_training_result]

    @task.branch
    def route(ti=None) -> str:  # type: ignore[no-untyped-def]
        failure = ti.xcom_pull(task_ids="get_result", key="failure_details")
        return "report_failure" if failure else "use_voice"

    @task
    def use_voice(ti=None) -> str:  # type: ignore[no-untyped-def]
        asset_id = ti.xcom_pull(task_ids="get_result")
        log.info(f"Voice ready: asset_id={asset_id}")
        return str(asset_id)

    # [START howto_failure_details]
    @task
    def report_failure(ti=None) -> dict:  # type: ignore[no-untyped-def,type-arg]
        details = ti.xcom_pull(task_ids="get_result", key="failure_details")
        lines = [
            f"Voice-training job {details['job_id']} ended in {details['state']} ({details['state_class']}).",
            f"Code: {details['job_failed_code'] or '-'}; reason: {details['job_failed_reason'] or '-'}",
        ]
        for error in details["audit_errors"]:
            lines.append(
                f"  fix {error['audio_name'] or error['text_name']}: "
                f"{error['error_code'] or ''} {error['error_message'] or ''}".rstrip()
            )
        if details.get("admin_audit_message"):
            lines.append(f"Reviewer says: {details['admin_audit_message']}")
        if details.get("console_url"):
            lines.append(f"Console: {details['console_url']}")
        report = "\n".join(lines)
        log.info(report)
        return {"job_id": details["job_id"], "state": details["state"], "report": report}

    # [END howto_failure_details]

    route_task = route()
    get_result >> route_task
    route_task >> [use_voice(), report_failure()]
