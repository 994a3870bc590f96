"""Checks of the sensor's and the operators' own arguments, one definition each (before any request)."""

from __future__ import annotations

from collections.abc import Iterable

from airflow_provider_voicetraining import version_compat as compat
from airflow_provider_voicetraining._wire import checks as check
from airflow_provider_voicetraining._wire.states import normalize_failure_states
from airflow_provider_voicetraining._wire.vocabulary import LANGUAGES


def seconds(value: object, name: str, *, maximum: float, default: float) -> float:
    """A positive number of seconds up to ``maximum`` (``default`` when unset)."""
    return check.positive_number(value, name, maximum=maximum, default=default)


def max_consecutive_errors(value: object) -> int:
    """Transient API errors tolerated in a row while waiting: 0..1000, 5 when unset."""
    return check.bounded_int(value, "max_consecutive_errors", minimum=0, maximum=1000, default=5)


def failure_states(value: Iterable[str] | None) -> list[str]:
    """The states that end a wait as failed (sorted; the defaults when unset)."""
    return sorted(normalize_failure_states(value))


def deferrable(value: bool | None) -> bool:
    """``deferrable``, or ``[operators] default_deferrable`` when unset (read when the task is built)."""
    return compat.default_deferrable() if value is None else bool(value)


def edition(value: object) -> str:
    """An edition name, normalized (``basic``, ``middle``, ``advance``, ``third_party``)."""
    return check.edition(value)


def language(value: object) -> str | None:
    """``CN`` or ``EN`` (None: the service's default)."""
    return check.choice(value, "language", LANGUAGES)
