"""Deprecated package: the wire layer is internal (``_wire``); its public names have public paths.

``wire.listing.JobFilters`` is :class:`airflow_provider_voicetraining.listing.JobFilters`.
"""
