"""Airflow's operator metaclass and this provider's class hierarchy, pinned.

``BaseOperatorMeta`` wraps a class's ``__init__`` (``_apply_defaults``) only when it differs from
``mro()[1].__init__``. A class whose first base is a mixin without ``__init__`` (``JobWaitMixin``)
and that defines none itself gets ``BaseOperator``'s already wrapped ``__init__`` wrapped a second
time, and its mapped instances come out with ``inlets``/``outlets`` ``None`` (every instance then
fails in ``InletEventsAccessors``: seen on 3.3.2, where ``partial()`` takes its defaults from
the wrapper). So: every operator class here defines its own ``__init__``, wrapped exactly once,
and a mapped operator, and each instance unmapped from it, has list ``inlets``/``outlets``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG, AssetAlias, BaseOperator

import airflow_provider_voicetraining
from airflow_provider_voicetraining.assets import VOICE_ALIAS
from airflow_provider_voicetraining.operators.voice_assessment import AssessVoiceRecordingsOperator
from airflow_provider_voicetraining.operators.voice_training import (
    CreateVoiceTrainingJobOperator,
    VoiceTrainingJobResultOperator,
    _ResultHandling,
)
from airflow_provider_voicetraining.sensors.voice_training import VoiceTrainingJobSensor

CLASSES: list[type[Any]] = [
    VoiceTrainingJobSensor,
    _ResultHandling,
    VoiceTrainingJobResultOperator,
    CreateVoiceTrainingJobOperator,
    AssessVoiceRecordingsOperator,
]
#: one mapped instance's arguments per concrete class
EXPANDED: dict[type[Any], dict[str, Any]] = {
    VoiceTrainingJobSensor: {"job_id": "job-1"},
    VoiceTrainingJobResultOperator: {"job_id": "job-1"},
    CreateVoiceTrainingJobOperator: {"voice_name": "v", "training_package": "p.zip", "edition": "basic"},
    AssessVoiceRecordingsOperator: {"package": "p.zip"},
}


def _wrap_depth(function: Any) -> int:
    depth = 0
    while hasattr(function, "__wrapped__"):
        function = function.__wrapped__
        depth += 1
    return depth


def _provider_operator_classes() -> set[type[Any]]:
    found: set[type[Any]] = set()
    for info in pkgutil.walk_packages(
        airflow_provider_voicetraining.__path__, "airflow_provider_voicetraining."
    ):
        if "._wire" in info.name or ".wire" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseOperator) and obj.__module__.startswith("airflow_provider_voicetraining"):
                found.add(obj)
    return found


def test_every_operator_class_of_the_provider_is_pinned() -> None:
    assert _provider_operator_classes() == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_class_defines_its_init_and_the_metaclass_wraps_it_once(cls: type[Any]) -> None:
    # (the metaclass assigns __init__ on every class it wraps, so vars() alone proves nothing)
    assert _wrap_depth(cls.__init__) == 1, f"{cls.__name__}.__init__ is wrapped more than once"
    # ... and what it wraps is the class's own function, not an inherited one
    assert cls.__init__.__wrapped__.__qualname__ == f"{cls.__name__}.__init__"


@pytest.mark.parametrize("cls", list(EXPANDED), ids=lambda c: c.__name__)
def test_mapped_instances_unmap_with_list_inlets_and_outlets(cls: type[Any]) -> None:
    with DAG(dag_id=f"classes_{cls.__name__}", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
        expanded = EXPANDED[cls]
        name, value = next(iter(expanded.items()))
        partial = {k: v for k, v in expanded.items() if k != name}
        mapped = cls.partial(task_id="mapped", **partial).expand(**{name: [value, value]})
    assert mapped.inlets == [] and mapped.outlets == []
    instance = mapped.unmap({name: value, **partial})
    assert isinstance(instance, cls)
    # the instance's own __init__ ran: a task that makes a voice declares the voice alias
    # (where its asset event goes), the recording check declares nothing
    voices = [] if cls is AssessVoiceRecordingsOperator else [AssetAlias(VOICE_ALIAS)]
    assert instance.inlets == [] and instance.outlets == voices
    assert getattr(instance, name) == value
    # the instance got the base class's defaults once: nothing doubled or lost
    assert instance.retries == BaseOperator(task_id="reference").retries
