"""A hook on the shared emulator for the ``utils`` tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def hook(emu: Any, use_conn: Any) -> Iterator[Any]:
    from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook

    use_conn(emu)
    with VoiceTrainingHook() as h:
        yield h
