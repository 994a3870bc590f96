"""OpenLineage (the optional provider, installed for the tests): the operators' facets as the
OpenLineage provider's own extractor manager collects them, and the ``metastudio://`` asset
converter as its asset translation calls it."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("airflow.providers.openlineage")

PROJECT = "0123456789abcdef0123456789abcdef"


def _extract(task: Any, state: str) -> Any:
    """What the OpenLineage listener gets for ``task`` (its ExtractorManager, as on a worker)."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    dagrun = SimpleNamespace(run_id="manual__lineage", dag_id="lineage_dag")
    return ExtractorManager().extract_metadata(dagrun, task, TaskInstanceState(state), None)


def _create_operator(package: str) -> Any:
    from airflow.sdk import DAG

    from airflow_provider_voicetraining.operators.voice_training import CreateVoiceTrainingJobOperator

    with DAG("lineage_dag", schedule=None):
        return CreateVoiceTrainingJobOperator(
            task_id="create", edition="basic", voice_name="shop-narrator", training_package=package
        )


def test_a_trained_voice_links_the_package_to_the_voice(emu, use_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    package = str(tmp_path / "shop.zip")
    task = _create_operator(package)
    job = {"job_id": "job-7", "asset_id": "asset-7", "voice_name": "shop-narrator", "state": "SUCCEED"}
    task.note_job(job)
    lineage = _extract(task, "success")
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("file", os.path.abspath(package))]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("metastudio://cn-north-4", f"{PROJECT}/voices/asset-7")
    ]
    query = lineage.run_facets["externalQuery"]
    assert (query.externalQueryId, query.source) == ("job-7", "metastudio")
    facet = lineage.run_facets["metastudio_voice_job"]
    assert (facet.job_id, facet.state, facet.voice_name, facet.edition) == (
        "job-7",
        "SUCCEED",
        "shop-narrator",
        "basic",
    )
    assert facet.console_url == f"{emu.url}/_emulator/console/jobs/job-7"
    # serializable as OpenLineage sends it
    from openlineage.client.serde import Serde

    assert '"externalQueryId": "job-7"' in Serde.to_json(query)


def test_a_failed_job_has_no_voice_but_keeps_the_job_facets(emu, use_conn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    use_conn(emu)
    task = _create_operator(str(tmp_path / "bad.zip"))
    task.note_job({"job_id": "job-8", "state": "FAILED", "console_url": "https://console.example/job-8"})
    lineage = _extract(task, "failed")
    assert lineage.outputs == [] and len(lineage.inputs) == 1
    facet = lineage.run_facets["metastudio_voice_job"]
    assert (facet.state, facet.console_url) == ("FAILED", "https://console.example/job-8")
    # a task that failed before any job existed: only what it read
    fresh = _create_operator(str(tmp_path / "never.zip"))
    assert _extract(fresh, "failed").run_facets == {}


def test_sensor_and_result_operator_report_the_voice(emu, use_conn) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk import DAG

    from airflow_provider_voicetraining.operators.voice_training import VoiceTrainingJobResultOperator
    from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

    use_conn(emu)
    with DAG("lineage_dag", schedule=None):
        tasks = [
            VoiceTrainingJobSensor(task_id="wait", job_id="job-9"),
            VoiceTrainingJobResultOperator(task_id="result", job_id="job-9"),
        ]
    for task in tasks:
        task.note_job({"job_id": "job-9", "asset_id": "asset-9", "state": "SUCCEED"})
        lineage = _extract(task, "success")
        assert lineage.inputs == []
        assert [d.name for d in lineage.outputs] == [f"{PROJECT}/voices/asset-9"]
        assert lineage.run_facets["externalQuery"].externalQueryId == "job-9"


def test_metastudio_assets_translate_to_the_same_dataset() -> None:
    from airflow.providers.openlineage.utils.utils import translate_airflow_asset
    from airflow.sdk import Asset

    dataset = translate_airflow_asset(Asset(uri=f"metastudio://cn-east-3/{PROJECT}/voices/a-1"), None)
    assert dataset is not None
    assert (dataset.namespace, dataset.name) == ("metastudio://cn-east-3", f"{PROJECT}/voices/a-1")
