"""Deprecated: use :mod:`airflow_provider_voicetraining.version_compat`.

(``triggering_alias_events`` is public at :mod:`airflow_provider_voicetraining.assets`.)
"""

import warnings

from airflow_provider_voicetraining.version_compat import (  # noqa: F401 (the old module's names)
    AIRFLOW_V_3_1_PLUS,
    AIRFLOW_V_3_3_PLUS,
    AIRFLOW_VERSION,
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    AirflowTaskTimeout,
    TaskDeferralTimeout,
    TaskDeferred,
    aget_connection,
    amask_secret,
    arun_sync,
    base_hook_class,
    default_deferrable,
    get_conf,
    load_dagbag,
    mask_secret,
    redact,
    rerun_execute,
    retry_follows,
    run_began,
    skips_failures,
    stale_resume,
    task_state_store,
    triggering_alias_events,
)

__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "TaskDeferralTimeout",
    "TaskDeferred",
    "aget_connection",
    "amask_secret",
    "base_hook_class",
    "get_conf",
    "mask_secret",
    "rerun_execute",
    "retry_follows",
    "run_began",
    "skips_failures",
    "stale_resume",
    "task_state_store",
    "triggering_alias_events",
]

warnings.warn(
    "airflow_provider_voicetraining.utils.compat is deprecated: import from "
    "airflow_provider_voicetraining.version_compat (triggering_alias_events: from "
    "airflow_provider_voicetraining.assets)",
    DeprecationWarning,
    stacklevel=2,
)
