"""One custom voice per end user, for a platform training voices for many users at once.

collect_requests -> recordings_to_check -> check_recordings (mapped, deferrable: the quality gate)
                 -> voices_to_train -> train_voice (mapped, deferrable; quota gate, never twice)
                 -> publish

* Each end user's jobs carry their ``X-App-UserId`` (``app_user_id``), so users never see each
  other's voices.
* ``check_recordings`` runs MetaStudio's recording check on each user's recordings; only users
  whose recordings pass are trained (the others are reported by ``publish``, with the advice).
* ``train_voice`` checks the training quota before creating anything (and waits up to an hour
  for one), and a retry (a worker lost, an API outage) reconnects to the user's job instead of
  paying for a second training.
* Both wait in the triggerer: a thousand users hold no worker slot while their voices train.

Trigger it with the users to serve::

    airflow dags trigger example_voice_training_platform -c '{"users": [
        {"user_id": "u-1001", "voice_name": "u-1001-narrator", "training_package": "/data/u-1001.zip"},
        {"user_id": "u-1002", "voice_name": "u-1002-narrator", "training_package": "/data/u-1002.zip"}]}'

Each user may give ``recordings`` (a zip of .wav files to check; default: the training
package) and ``training_package``. Without a package a synthetic one is generated (the emulator
accepts it, the real service would not); ``"noisy": true`` makes its recordings fail the check
on the emulator, to see the gate at work.
"""

from __future__ import annotations

import logging
import os
import tempfile
import zipfile
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_voicetraining.operators.voice_assessment import AssessVoiceRecordingsOperator
from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator

#: Training takes hours: poll every minute. The demo and tests set a short interval.
POLL_INTERVAL = float(os.environ.get("VOICE_TRAINING_POLL_INTERVAL", "60"))
DEFAULT_USERS = [
    {"user_id": "user-1", "voice_name": "user-1-narrator"},
    {"user_id": "user-2", "voice_name": "user-2-narrator"},
    {"user_id": "user-3", "voice_name": "user-3-narrator", "noisy": True},
]

#: task log lines (print() output would land in the log's collapsed "Post Execute" group)
log = logging.getLogger(__name__)

with DAG(
    dag_id="example_voice_training_platform",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "metastudio", "voice-training"],
    params={
        "users": Param(DEFAULT_USERS, type="array", description="One entry per end user (see the DAG doc)"),
        "edition": Param("basic", enum=["basic", "middle", "advance", "third_party"]),
    },
) as dag:

    @task
    def collect_requests(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Each user's request with local package paths (generated when none is given)."""
        from airflow_provider_voicetraining.packages import make_synthetic_package

        assert params is not None
        folder = tempfile.mkdtemp(prefix="voice-platform-")
        requests = []
        for user in params["users"]:
            package = user.get("training_package") or make_synthetic_package(
                os.path.join(folder, f"{user['user_id']}.zip"), params["edition"]
            )
            recordings = user.get("recordings") or package
            if user.get("noisy") and not user.get("recordings"):
                recordings = os.path.join(folder, f"{user['user_id']}-noisy.zip")
                with zipfile.ZipFile(package) as source, zipfile.ZipFile(recordings, "w") as noisy:
                    for name in source.namelist():
                        if name.endswith(".wav"):  # the emulator rates "noisy" recordings out of range
                            noisy.writestr(f"noisy-{name}", source.read(name))
            requests.append({**user, "training_package": package, "recordings": recordings})
        return requests

    @task
    def recordings_to_check(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One recording check per user, filed under the user's X-App-UserId."""
        return [{"package": r["recordings"], "app_user_id": r["user_id"]} for r in requests]

    @task
    def voices_to_train(
        requests: list[dict[str, Any]], assessments: Any, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The users whose recordings passed, as create-operator arguments."""
        assert params is not None
        return [
            {
                "voice_name": request["voice_name"],
                "app_user_id": request["user_id"],
                "training_package": request["training_package"],
                "edition": params["edition"],
            }
            for request, assessment in zip(requests, list(assessments), strict=True)
            if assessment["passed"]
        ]

    @task(trigger_rule="none_failed")
    def publish(
        requests: list[dict[str, Any]], assessments: Any, trained: Any, results: Any
    ) -> dict[str, Any]:
        """Per user: the voice's asset id, why training failed, or why the recordings were refused."""
        outcome = {t["app_user_id"]: r for t, r in zip(list(trained), list(results or []), strict=True)}
        report: dict[str, Any] = {}
        for request, assessment in zip(requests, list(assessments), strict=True):
            user = request["user_id"]
            if user not in outcome:
                report[user] = {
                    "rejected": [p["property"] for p in assessment["problems"]],
                    "advice": assessment["suggestion"],
                }
            elif isinstance(outcome[user], str):
                report[user] = {"asset_id": outcome[user]}
            else:  # the failure details (fail_on_job_failure=False)
                report[user] = {
                    "failed": outcome[user]["state"],
                    "reason": outcome[user]["job_failed_reason"],
                }
            log.info(f"{user}: {report[user]}")
        return report

    requests = collect_requests()
    # [START howto_operator_assess_voice_recordings]
    check_recordings = AssessVoiceRecordingsOperator.partial(
        task_id="check_recordings",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        fail_on_bad_recordings=False,  # report them; only the users who passed are trained
    ).expand_kwargs(recordings_to_check(requests))
    # [END howto_operator_assess_voice_recordings]
    to_train = voices_to_train(requests, check_recordings.output)
    # [START howto_operator_create_mapped]
    train_voice = CreateVoiceTrainingJobOperator.partial(
        task_id="train_voice",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        wait_timeout=3 * 24 * 3600,
        quota_wait_timeout=3600,  # no training left: wait up to an hour for one
        fail_on_job_failure=False,  # a failed voice is reported per user, not a failed DAG
        retries=2,  # a retry reconnects to the user's job: never a second training
    ).expand_kwargs(to_train)
    # [END howto_operator_create_mapped]
    publish(requests, check_recordings.output, to_train, train_voice.output)
