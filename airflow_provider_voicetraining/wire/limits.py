"""Deprecated: the size and time bounds are internal (``_wire.limits``); docs/hook.md lists them."""

import warnings

from airflow_provider_voicetraining._wire.limits import *  # noqa: F403

warnings.warn(
    "airflow_provider_voicetraining.wire.limits is deprecated and internal now "
    "(airflow_provider_voicetraining._wire.limits, which may change without notice)",
    DeprecationWarning,
    stacklevel=2,
)
