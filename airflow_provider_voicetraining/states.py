"""Public import path of the job states and their classes (defined in :mod:`._wire.states`)."""

from airflow_provider_voicetraining._wire.states import *  # noqa: F403
from airflow_provider_voicetraining._wire.states import __all__ as __all__
