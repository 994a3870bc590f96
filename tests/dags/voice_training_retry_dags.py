"""DAGs for the retry tests (``dag.test()`` retries a failed try at once: ``retry_delay=0``).

Conf ``package`` and ``voice_name``. The connection the tests install sets ``max_retries=0``, so
one injected fault fails a call (and, with ``max_consecutive_errors=0``, a wait) at once.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
PARAMS = {"package": "", "voice_name": "retried"}
RETRY = {"retries": 2, "retry_delay": timedelta(0)}


def _create(task_id: str, **options: object) -> CreateVoiceTrainingJobOperator:
    settings: dict[str, object] = {
        "edition": "basic",
        "voice_name": "{{ params.voice_name }}",
        "training_package": "{{ params.package }}",
        "poll_interval": 0.2,
        "wait_timeout": 60,
        "max_consecutive_errors": 0,
        **RETRY,
        **options,
    }
    return CreateVoiceTrainingJobOperator(task_id=task_id, **settings)  # type: ignore[arg-type]


for style in ("inline", "deferrable"):
    for on_abort in ("leave", "delete"):
        with DAG(f"t_retry_{style}_{on_abort}", schedule=None, start_date=START, params=PARAMS) as dag:
            # polls of its own: the injected fault must reach the trigger's show, which a shared
            # poller's list news could answer first (and that race is the poller's to win)
            _create(
                "create",
                wait_for_completion=True,
                deferrable=style == "deferrable",
                on_abort=on_abort,
                shared_polling=False,
            )
        globals()[dag.dag_id] = dag

    with DAG(f"t_retry_{style}_timeout", schedule=None, start_date=START, params=PARAMS) as dag:
        # USER_RESULT_REVIEW is not a failure state here: a review- job waits until the timeout
        _create(
            "leave",
            wait_for_completion=True,
            deferrable=style == "deferrable",
            wait_timeout=1,
            failure_states=["FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"],
        )
        _create(
            "delete",
            voice_name="{{ params.voice_name }}-del",
            wait_for_completion=True,
            deferrable=style == "deferrable",
            wait_timeout=1,
            failure_states=["FAILED", "SPLIT_FAILED", "USER_REVIEW_REJECT"],
            on_abort="delete",
        )
    globals()[dag.dag_id] = dag

with DAG("t_retry_later", schedule=None, start_date=START, params=PARAMS) as dag:
    # the retry starts a second later: a job of the fast test emulator has finished by then
    _create("create", wait_for_completion=True, retry_delay=timedelta(seconds=1))

with DAG("t_retry_nowait", schedule=None, start_date=START, params=PARAMS) as dag:
    _create("create", app_user_id="tenant-r")

with DAG("t_retry_last_try", schedule=None, start_date=START, params=PARAMS) as dag:
    _create("create", wait_for_completion=True, on_abort="delete", retries=0)

with DAG("t_retry_user_batch", schedule=None, start_date=START, params=PARAMS) as dag:
    _create("create", wait_for_completion=True, batch_name="campaign-7")

with DAG("t_commit_moves_job", schedule=None, start_date=START, params=PARAMS) as dag:
    _create(
        "create",
        wait_for_completion=True,
        app_user_id="tenant-a",
        commit_overrides={"app_user_id": "tenant-b", "voice_name": "renamed-voice"},
    )
