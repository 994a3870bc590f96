"""Deprecated: use :mod:`airflow_provider_voicetraining.packages` (the same names)."""

import warnings

from airflow_provider_voicetraining.packages import *  # noqa: F403
from airflow_provider_voicetraining.packages import __all__ as __all__

warnings.warn(
    "airflow_provider_voicetraining.package is deprecated: "
    "import from airflow_provider_voicetraining.packages",
    DeprecationWarning,
    stacklevel=2,
)
