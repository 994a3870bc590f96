"""Public import path of :class:`JobFilters`, the filters of the hook's ``list_jobs``."""

from airflow_provider_voicetraining._wire.listing import JobFilters

__all__ = ["JobFilters"]
