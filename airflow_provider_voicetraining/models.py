"""Public import path of the typed API models (defined in :mod:`._wire.models`)."""

from airflow_provider_voicetraining._wire.models import *  # noqa: F403
from airflow_provider_voicetraining._wire.models import __all__ as __all__
