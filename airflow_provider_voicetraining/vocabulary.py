"""Public import path of the API's vocabulary (defined in :mod:`._wire.vocabulary`)."""

from airflow_provider_voicetraining._wire.vocabulary import *  # noqa: F403
from airflow_provider_voicetraining._wire.vocabulary import __all__ as __all__
