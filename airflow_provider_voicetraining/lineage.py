"""OpenLineage for the voice-training tasks (only with ``apache-airflow-providers-openlineage``).

Input: the create operator's training package (namespace ``file``). Output: the voice
(namespace ``metastudio://<region>``, name ``<project_id>/voices/<asset_id>``). Run facets:
``externalQuery`` and :data:`FACET_NAME`. OpenLineage is imported only inside the methods the
listener calls, so the provider neither needs nor loads it otherwise.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from airflow_provider_voicetraining.assets import SCHEME, normalize_uri

if TYPE_CHECKING:
    from airflow.sdk import Asset

__all__ = ["FACET_NAME", "SOURCE", "convert_asset_to_openlineage"]

#: ``source`` of the ``externalQuery`` run facet
SOURCE = "metastudio"
FACET_NAME = "metastudio_voice_job"


class VoiceLineageMixin:
    """OpenLineage methods for the sensor and the operators.

    The task notes what it learnt with :meth:`note_job` (the job dict on success, the failure
    details on failure); both run in the process that finishes the task (after a deferral too),
    which is where the listener calls these methods.
    """

    _lineage_job: dict[str, Any] | None = None

    def note_job(self, job: dict[str, Any] | None) -> None:
        """Remember the job (or failure details) for the lineage facets."""
        if job:
            self._lineage_job = dict(job)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage of a finished task: package -> voice, with the job's facets."""
        return operator_lineage(self)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """Lineage of a failed task: what it read, and the job if one was created."""
        return operator_lineage(self)


def operator_lineage(task: Any) -> Any:
    """Build the ``OperatorLineage`` of ``task`` (see the module docstring)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset
    from openlineage.client.facet_v2 import external_query_run

    job = dict(getattr(task, "_lineage_job", None) or {})
    job_id = job.get("job_id") or getattr(task, "_remote_job_id", None)
    settings = _settings(task)
    inputs = []
    # the create operator's training package, or the recording check's package
    package = getattr(task, "training_package", None) or getattr(task, "package", None)
    if isinstance(package, str) and package and "{{" not in package:
        inputs.append(Dataset(namespace="file", name=os.path.abspath(package)))
    outputs = []
    if settings is not None and job.get("asset_id"):
        outputs.append(_voice_dataset(settings.region, settings.project_id, str(job["asset_id"])))
    run_facets: dict[str, Any] = {}
    if job_id:
        run_facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=str(job_id), source=SOURCE
        )
        run_facets[FACET_NAME] = voice_job_facet_class()(
            job_id=str(job_id),
            state=job.get("state"),
            voice_name=job.get("voice_name") or _rendered(task, "voice_name"),
            edition=_rendered(task, "edition"),
            console_url=job.get("console_url") or _console_url(task, str(job_id)),
        )
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets)


def convert_asset_to_openlineage(asset: Asset, lineage_context: Any) -> Any:
    """Convert a ``metastudio://`` asset to an OpenLineage dataset (the ``asset-uris`` converter)."""
    from urllib.parse import urlsplit

    parts = normalize_uri(urlsplit(asset.uri))
    _, project_id, _, asset_id = parts.path.split("/")
    return _voice_dataset(parts.netloc, project_id, asset_id)


def _voice_dataset(region: str, project_id: str, asset_id: str) -> Any:
    from openlineage.client.event_v2 import Dataset

    return Dataset(namespace=f"{SCHEME}://{region}", name=f"{project_id}/voices/{asset_id}")


@cache
def voice_job_facet_class() -> type[Any]:
    """Return the ``metastudio_voice_job`` run facet class (built on first use: OpenLineage is optional)."""
    import attrs
    from openlineage.client.facet_v2 import RunFacet

    @attrs.define
    class MetaStudioVoiceJobRunFacet(RunFacet):  # type: ignore[misc]
        """The MetaStudio voice-training job behind this task run."""

        job_id: str
        state: str | None = None
        voice_name: str | None = None
        edition: str | None = None
        console_url: str | None = None

    return MetaStudioVoiceJobRunFacet


def _settings(task: Any) -> Any:
    try:
        return task.hook.settings
    except Exception:  # a bad connection fails the task itself; lineage reports what it can
        return None


def _console_url(task: Any, job_id: str) -> str | None:
    try:
        return str(task.hook.console_url(job_id))
    except Exception:
        return None


def _rendered(task: Any, name: str) -> str | None:
    value = getattr(task, name, None)
    return value if isinstance(value, str) and "{{" not in value else None
