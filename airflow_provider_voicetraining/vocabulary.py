"""Public import path of the API's vocabulary (defined in :mod:`.wire.vocabulary`)."""

from airflow_provider_voicetraining.wire.vocabulary import *  # noqa: F403
from airflow_provider_voicetraining.wire.vocabulary import __all__ as __all__
