"""Operator extra link to the job in the MetaStudio console (or the emulator's job page).

The URL is computed by the task (which has the connection) and pushed to XCom as
``console_url`` before any waiting; the link only reads it, so rendering it needs no
connection access on the api-server.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

from airflow_provider_voicetraining._wait_rules import XCOM_CONSOLE_URL

__all__ = ["VoiceTrainingJobLink"]


class VoiceTrainingJobLink(BaseOperatorLink):
    """The "MetaStudio voice job" link: the ``console_url`` XCom of the task (empty before it)."""

    name = "MetaStudio voice job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """Read the link the task pushed; no connection access needed where the UI renders it."""
        from airflow.sdk.bases.xcom import BaseXCom

        url = BaseXCom.get_value(ti_key=ti_key, key=XCOM_CONSOLE_URL)
        return url if isinstance(url, str) else ""
