"""Run DAGs for real with ``dag.test()`` and read back task states and XComs from the database."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    #: task_id -> state (for mapped tasks, the state of one instance: see ``instances``)
    tasks: dict[str, str] = field(default_factory=dict)
    #: (task_id, map_index) -> (state, try_number) of every task instance
    instances: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    #: (task_id, map_index) -> epoch seconds when its last try started
    started: dict[tuple[str, int], float] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(
                    dag_id=self.dag_id, run_id=self.run_id, task_id=task_id, key=key, map_index=map_index
                )
                .one_or_none()
            )
            return None if row is None else XComModel.deserialize_value(row)

    def mapped(self, task_id: str) -> dict[int, str]:
        """map_index -> state of a mapped task's instances."""
        return {i: state for (t, i), (state, _) in sorted(self.instances.items()) if t == task_id}

    def xcom_keys(self, task_id: str) -> set[str]:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(XComModel.key).filter_by(
                dag_id=self.dag_id, run_id=self.run_id, task_id=task_id
            )
            return {r[0] for r in rows}

    def asset_events(self) -> list[dict[str, Any]]:
        """The asset events this run's tasks emitted: uri, extra, source task, source aliases."""
        from airflow.models.asset import AssetEvent
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(AssetEvent).filter_by(source_dag_id=self.dag_id, source_run_id=self.run_id)
            return [
                {
                    "uri": row.asset.uri,
                    "extra": dict(row.extra or {}),
                    "task_id": row.source_task_id,
                    "aliases": sorted(alias.name for alias in row.source_aliases),
                }
                for row in rows.order_by(AssetEvent.id)
            ]


def load_dagbag() -> Any:
    from airflow_provider_voicetraining.version_compat import load_dagbag

    return load_dagbag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


_DEFAULT_PARAMS: dict[str, dict[str, Any]] = {}


def run_dag(dagbag: Any, dag_id: str, conf: dict[str, Any] | None = None) -> RunResult:
    """``dag.test()`` with ``conf`` on top of the DAG's original param defaults.

    In-process runs share the DAG object, and a run's conf can linger in its params; passing
    every param explicitly keeps one test's conf out of the next test's run.
    """
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} not found; import errors: {dagbag.import_errors}"
    defaults = _DEFAULT_PARAMS.setdefault(dag_id, {k: dag.params[k] for k in dag.params})
    run = dag.test(run_conf={**defaults, **(conf or {})})
    tis = run.get_task_instances()
    tasks = {ti.task_id: str(ti.state) for ti in tis}
    instances = {(ti.task_id, ti.map_index): (str(ti.state), int(ti.try_number)) for ti in tis}
    started = {(ti.task_id, ti.map_index): ti.start_date.timestamp() for ti in tis if ti.start_date}
    return RunResult(
        dag_id=dag_id,
        run_id=run.run_id,
        state=str(run.state),
        tasks=tasks,
        instances=instances,
        started=started,
    )
