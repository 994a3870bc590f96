"""Public import path of the training-package checks (defined in :mod:`._wire.packages`)."""

from airflow_provider_voicetraining._wire.packages import *  # noqa: F403
from airflow_provider_voicetraining._wire.packages import __all__ as __all__
