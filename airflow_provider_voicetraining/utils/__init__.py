"""Deprecated package: ``utils.compat`` became :mod:`airflow_provider_voicetraining.version_compat`."""
