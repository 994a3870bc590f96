"""Public import path of the typed API models (defined in :mod:`.wire.models`)."""

from airflow_provider_voicetraining.wire.models import *  # noqa: F403
from airflow_provider_voicetraining.wire.models import __all__ as __all__
