"""Everything that differs between the supported Airflow lines (3.0.x ... 3.3.x), in one place.

No other module of the provider branches on the Airflow version: they import from here (as
Airflow's own providers keep a root ``version_compat.py``). Public (``__all__``): the version
flags and the Airflow exceptions whose import path differs per line. The helper functions
serve the provider's own modules and may change; the table of what differs per line is in
docs/design.md.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import TYPE_CHECKING, Any

# mypy runs against whichever Airflow is installed: the ignores below cover the other line.
try:  # Airflow 3.1+
    from airflow.sdk.exceptions import (  # type: ignore[attr-defined]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
        TaskDeferralTimeout,
        TaskDeferred,
    )
except ImportError:  # Airflow 3.0.x
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        AirflowTaskTimeout,
        TaskDeferralTimeout,
        TaskDeferred,
    )

if TYPE_CHECKING:
    from airflow.sdk import Connection

    AIRFLOW_VERSION: str
    AIRFLOW_V_3_1_PLUS: bool
    AIRFLOW_V_3_3_PLUS: bool

_SINCE = {"AIRFLOW_V_3_1_PLUS": (3, 1), "AIRFLOW_V_3_3_PLUS": (3, 3)}


def __getattr__(name: str) -> Any:
    """``AIRFLOW_VERSION``, ``AIRFLOW_V_3_1_PLUS`` and ``AIRFLOW_V_3_3_PLUS``, read from the installed
    distribution's metadata on first use (a scan of ``sys.path`` that DAG-file imports need not pay)."""
    if name == "AIRFLOW_VERSION":
        value: Any = importlib.metadata.version("apache-airflow-core")
    elif name in _SINCE:
        value = tuple(int(p) for p in __getattr__("AIRFLOW_VERSION").split(".")[:2]) >= _SINCE[name]
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "TaskDeferralTimeout",
    "TaskDeferred",
]


def base_hook_class() -> type[Any]:
    try:
        from airflow.sdk import BaseHook  # type: ignore[attr-defined]
    except ImportError:  # 3.0.x
        from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined]
    return BaseHook  # type: ignore[no-any-return]


def get_conf() -> Any:
    try:
        from airflow.sdk import conf  # type: ignore[attr-defined]
    except ImportError:  # 3.0.x
        from airflow.configuration import conf  # type: ignore[no-redef,attr-defined,assignment]
    return conf


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, read when an operator is built (as Airflow's own do)."""
    return bool(get_conf().getboolean("operators", "default_deferrable", fallback=False))


def skips_failures(sensor: Any) -> bool:
    """Whether a sensor turns a failure into a skip: ``soft_fail``, or ``never_fail`` (3.1+)."""
    return bool(sensor.soft_fail or getattr(sensor, "never_fail", False))


def task_state_store(context: Any) -> Any | None:
    """The task instance's durable key-value store (Airflow 3.3+), or ``None`` before 3.3.

    Unlike XCom, which Airflow clears before every retry, it keeps what a try wrote through
    retries and clears of the task instance (``airflow.sdk.bases.resumablejobmixin`` builds on
    it); rows go with the DAG run.
    """
    return context.get("task_state_store")


def retry_follows(context: Any) -> bool:
    """Whether Airflow retries this task instance if the current try fails.

    The Task SDK decides it from the server's ``should_retry`` (sent when the try starts, 3.0+);
    without it (not seen in practice), from ``try_number`` and ``max_tries``.
    """
    ti = context["ti"]
    server = getattr(ti, "_ti_context_from_server", None)
    flag = getattr(server, "should_retry", None)
    if isinstance(flag, bool):
        return flag
    retries = getattr(getattr(ti, "task", None), "retries", 0) or 0
    return bool(retries) and int(ti.try_number) <= int(getattr(ti, "max_tries", 0) or 0)


def first_try(context: Any) -> int:
    """The try that began the task instance's current series: 1, or the first try after it was
    last cleared (``max_tries - retries + 1``, Airflow's own rule for a rescheduled sensor's
    start). Unknown values give 1: every later try then counts as a retry."""
    ti = context["ti"]
    max_tries = getattr(ti, "max_tries", None)
    retries = getattr(getattr(ti, "task", None), "retries", 0) or 0
    if not isinstance(max_tries, int) or not isinstance(retries, int):
        return 1
    try_number = int(getattr(ti, "try_number", 1) or 1)
    return max(1, min(try_number, max_tries - retries + 1))


def record_deferral(context: Any, marker_key: str) -> None:
    """Before deferring: record the try that defers, where :func:`stale_resume` needs it.

    Only before 3.3, as the internal XCom ``marker_key`` (3.3 clears a resume's state when a try
    ends, so nothing is recorded and users see no such XCom there). Not in the resume's kwargs:
    carried there, it failed every retry of a deferred wait on 3.0.6.
    """
    if sys.modules[__name__].AIRFLOW_V_3_3_PLUS:
        return
    ti = context["ti"]
    ti.xcom_push(key=marker_key, value=int(ti.try_number))


def stale_resume(context: Any, marker_key: str) -> bool:
    """Whether Airflow resumed this try with an event meant for an earlier one.

    Airflow 3.0.x does not clear a task instance's ``next_method``/``next_kwargs`` when a try
    that resumed from deferral fails, so the retry is resumed again with the same trigger event
    (and fails the same way) instead of running ``execute``; it does not clear XCom either,
    taking the retry for a resume. 3.3 clears both when a try ends (never stale: no look-up).
    Before 3.3 a task records its ``try_number`` under the XCom ``marker_key`` before deferring
    (:func:`record_deferral`); a resume in another try is stale.
    """
    if sys.modules[__name__].AIRFLOW_V_3_3_PLUS:
        return False
    ti = context.get("ti")
    if ti is None:
        return False
    deferred_in = ti.xcom_pull(task_ids=ti.task_id, key=marker_key, map_indexes=ti.map_index)
    return isinstance(deferred_in, int) and deferred_in != int(ti.try_number)


def rerun_execute(task: Any, context: Any) -> Any:
    """Run ``task.execute(context)`` from a resume, as the Task SDK would (no nested-call warning)."""
    from airflow.sdk.bases.operator import ExecutorSafeguard

    token = ExecutorSafeguard.tracker.set(task)
    try:
        return task.execute(context)
    finally:
        ExecutorSafeguard.tracker.reset(token)


def run_began(context: Any) -> float | None:
    """Epoch seconds when the DAG run became due (``run_after``): set when the run is created
    and, unlike its ``start_date``, unchanged when tasks are cleared. ``None`` if unknown."""
    run = context.get("dag_run")
    for name in ("run_after", "logical_date", "start_date"):
        value = getattr(run, name, None)
        if value is not None and hasattr(value, "timestamp"):
            return float(value.timestamp())
    return None


def mask_secret(secret: str | None) -> None:
    """Register ``secret`` with Airflow's masker (task process and, inside a task, its supervisor)."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret as _mask
    except ImportError:  # 3.0.x
        from airflow.sdk.execution_time.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]
    _mask(secret)


async def amask_secret(secret: str | None) -> None:
    """Async :func:`mask_secret`: on 3.1+ it must not block the event loop on supervisor comms."""
    if not secret:
        return
    try:
        from airflow.sdk.log import amask_secret as _amask
    except ImportError:  # 3.0.x: only the local masker is reachable from the triggerer loop.
        from airflow.sdk.execution_time.secrets_masker import _secrets_masker

        _secrets_masker().add_mask(secret)
        return
    await _amask(secret)


async def aget_connection(conn_id: str) -> Connection:
    """Fetch a connection without blocking the event loop (the triggerer's, above all)."""
    hook_cls = base_hook_class()
    if hasattr(hook_cls, "aget_connection"):
        return await hook_cls.aget_connection(conn_id)  # type: ignore[no-any-return]
    # 3.0.x: the Task SDK's comms must be driven from a worker thread (triggerer_job_runner docs).
    from asgiref.sync import sync_to_async

    return await sync_to_async(hook_cls.get_connection)(conn_id)  # type: ignore[no-any-return]


def triggering_alias_events(context: Any, alias: Any) -> list[Any]:
    """The asset events that triggered this run through ``alias`` (a DAG scheduled on it).

    3.1+: ``context["triggering_asset_events"][alias]``. 3.0.x leaves the events out of a run
    triggered through an alias (the scheduler matches them to the DAG's assets only;
    apache/airflow#50182, fixed in 3.1): there the alias's events since this DAG's previous run
    are read through the task's inlets (the task must list ``alias`` in ``inlets``).
    """
    triggering = context["triggering_asset_events"]
    try:
        events = list(triggering[alias])
    except KeyError:
        events = []
    if events or sys.modules[__name__].AIRFLOW_V_3_1_PLUS:
        return events
    dag_run = context["dag_run"]
    until = dag_run.run_after
    since = context.get("prev_data_interval_end_success")
    return [
        e
        for e in context["inlet_events"][alias]
        if e.timestamp <= until and (since is None or e.timestamp > since)
    ]


def asset_event_recorded(asset: Any) -> str | None:
    """Return where Airflow recorded the asset's newest event (``"dag/run/task at time"``), or ``None``.

    The Task SDK's lookup behind ``context["inlet_events"]``, for an asset that is not among the
    task's inlets (a voice is known only at run time): one Execution API call; 3.1+ asks for the
    newest event only, 3.0.x for all of them (one, as a rule). A failed lookup counts as none (the
    caller then emits: a duplicate event is better than a lost voice).
    """
    try:
        from airflow.sdk.execution_time.context import InletEventsAccessors

        # typed as a list on 3.0.x, a lazy accessor (with ``limit``) from 3.1
        events: Any = InletEventsAccessors([asset])[asset]
        if hasattr(events, "limit"):  # 3.1+: a lazy accessor
            events = events.ascending(False).limit(1)
        newest = list(events)[-1:]  # 3.0.x: every event, oldest first
    except Exception as exc:  # no supervisor (a unit test), or the API refused: not decisive
        import logging

        logging.getLogger(__name__).warning("Could not look up the events of asset %s: %s", asset.uri, exc)
        return None
    if not newest:
        return None
    event = newest[-1]
    source = "/".join(str(p) for p in (event.source_dag_id, event.source_run_id, event.source_task_id) if p)
    return f"{source or 'created by hand'} at {event.timestamp.isoformat()}"


def load_dagbag(dag_folder: str) -> Any:
    """Parse ``dag_folder`` into a DagBag, without Airflow's bundled examples (demo and tests)."""
    try:  # 3.1+ (airflow.models.dagbag still works there, with a deprecation warning)
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=dag_folder)
    except ImportError:  # 3.0.x
        from airflow.models.dagbag import DagBag  # type: ignore[attr-defined,no-redef]

        return DagBag(dag_folder=dag_folder, include_examples=False)  # type: ignore[call-arg]


def redact(value: Any) -> Any:
    """Airflow's masker applied to ``value`` (what task logs would show)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact as _redact
    except ImportError:  # 3.0.x
        from airflow.sdk.execution_time.secrets_masker import redact as _redact  # type: ignore[no-redef]
    return _redact(value)


async def arun_sync(func: Any, *args: Any) -> Any:
    """Run ``func(*args)`` from async code when it may talk to the Task SDK supervisor.

    On 3.0.x such calls (e.g. ``Connection.extra_dejson`` masking secrets) go through
    ``async_to_sync`` and fail on the event-loop thread ("You cannot use AsyncToSync in the same
    thread as an async event loop"), so they run in a worker thread. 3.1+ handles them inline.
    """
    if sys.modules[__name__].AIRFLOW_V_3_1_PLUS:  # via the lazy module __getattr__ above
        return func(*args)
    from asgiref.sync import sync_to_async

    return await sync_to_async(func)(*args)
