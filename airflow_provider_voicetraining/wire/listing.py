"""Deprecated: use :mod:`airflow_provider_voicetraining.listing`."""

import warnings

from airflow_provider_voicetraining.listing import JobFilters

__all__ = ["JobFilters"]

warnings.warn(
    "airflow_provider_voicetraining.wire.listing is deprecated: import JobFilters from "
    "airflow_provider_voicetraining.listing",
    DeprecationWarning,
    stacklevel=2,
)
