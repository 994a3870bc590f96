"""``make demo``: the example pipeline, end to end, with real Airflow against the emulator.

1. starts the MetaStudio emulator in its own process (signatures verified, time-scaled jobs);
2. points ``metastudio_default`` at it and gives Airflow a private home (SQLite);
3. migrates the database and runs ``example_voice_training_pipeline`` with ``dag.test()``
   (the same code path as ``airflow dags test``; the deferrable sensor's trigger runs inline);
4. prints each task's state and the resulting ``asset_id``, stops the emulator, exits 0 only if
   the run succeeded.

Run it with ``make demo``, or ``.venv-demo-3.3.2/bin/python -m tools.demo [--keep-home]``
(the project's virtual environment: it needs Airflow and the emulator's extra).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

DAG_ID = "example_voice_training_pipeline"


def _dags_folder() -> Path:
    here = Path(__file__).resolve().parent.parent / "dags"
    if not (here / f"{DAG_ID}.py").exists():
        raise SystemExit(
            f"Cannot find the example DAGs next to the package ({here}); run from a source checkout."
        )
    return here


def _check_environment() -> None:
    """Say what to run when this Python lacks what the demo needs (not the project's venv)."""
    missing = [name for name in ("airflow", "metastudio_emulator") if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(
            f"The demo needs Airflow and this project installed; {sys.executable} cannot import "
            f"{' or '.join(missing)}.\nRun it with `make demo` (it creates the virtual environment "
            "first), or `.venv-demo-3.3.2/bin/python -m tools.demo` once that exists."
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary AIRFLOW_HOME")
    parser.add_argument("--voice-name", default="demo-narrator", help="prefix fail- to see a failure")
    parser.add_argument("--verbose", action="store_true", help="show Airflow's INFO logs too")
    args = parser.parse_args(argv)
    _check_environment()

    from cryptography.fernet import Fernet

    from metastudio_emulator import EmulatorConfig, spawn_emulator_process

    home = tempfile.mkdtemp(prefix="voicetraining-demo-")
    # the training package and every other temporary file go into the home, removed at the end
    os.environ["TMPDIR"] = tempfile.tempdir = os.path.join(home, "tmp")
    os.mkdir(tempfile.tempdir)
    os.environ.update(
        {
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(_dags_folder()),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # trigger kwargs and connections are stored encrypted, as in a real deployment
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "VOICE_TRAINING_POLL_INTERVAL": "0.5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO" if args.verbose else "WARNING",
            # dag.test() runs the server side in this process, so its log lands here. The first
            # event of a new voice through the asset alias logs two warnings in Airflow's asset
            # manager ("AssetModel ... not found; cannot create asset event", "Emitting event for
            # inactive AssetModel"): Airflow looks the asset up, then creates it, by design
            # (apache/airflow#48565). In a deployment they go to the api-server's log; the voice's
            # asset event is created either way (docs: assets and lineage).
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": "" if args.verbose else "airflow.assets.manager=ERROR",
        }
    )
    if not args.verbose:
        # Starlette deprecates httpx in its test client, through which dag.test() reaches
        # Airflow's in-process execution API; a deployment talks real HTTP to the api-server.
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    print(f"AIRFLOW_HOME={home}")
    with spawn_emulator_process(EmulatorConfig(time_scale=0.1, seed=7, api_rate_limits=True)) as emulator:
        print(f"Emulator listening on {emulator.url} (pid {emulator.pid})")
        os.environ["AIRFLOW_CONN_METASTUDIO_DEFAULT"] = emulator.connection_json(auth_type="aksk")
        code = _run_dag(args.voice_name)
    if args.keep_home:
        print(f"Kept {home}")
    else:
        shutil.rmtree(home, ignore_errors=True)
    return code


def _run_dag(voice_name: str) -> int:
    # Airflow reads its configuration at import: import it only now that the env is set.
    from airflow.utils.db import initdb

    from airflow_provider_voicetraining.version_compat import load_dagbag

    if os.environ["AIRFLOW__LOGGING__NAMESPACE_LEVELS"]:
        # Airflow < 3.1 has no [logging] namespace_levels: the same level on its stdlib logger
        logging.getLogger("airflow.assets.manager").setLevel(logging.ERROR)
    print("Migrating the Airflow database (SQLite) ...")
    initdb()
    bag = load_dagbag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"Import error in {path}:\n{error}", file=sys.stderr)
        return 1
    dag = bag.get_dag(DAG_ID)
    print(f"Running {DAG_ID} with dag.test() ...")
    run = dag.test(run_conf={"voice_name": voice_name})
    print()
    print(f"Dag run {run.run_id}: {run.state}")
    asset_id = None
    for ti in sorted(run.get_task_instances(), key=lambda t: t.start_date or t.end_date or 0):
        print(f"  {ti.task_id:<28} {ti.state}")
        if ti.task_id == "use_voice":
            asset_id = _xcom(run, "use_voice")
    job_id = _xcom(run, "create_voice_job")
    if job_id:
        # no console link: the emulator serving it stops with the demo
        print(f"\njob_id   = {job_id}")
    failure = _xcom(run, "wait_for_voice", "failure_details")
    if isinstance(failure, dict):
        # without its console link: the emulator serving it stops with the demo
        print(f"failure  = { {k: v for k, v in failure.items() if k != 'console_url'} }")
    if asset_id:
        print(f"asset_id = {asset_id}")
    return 0 if str(run.state) == "success" and asset_id else 1


def _xcom(run: object, task_id: str, key: str = "return_value") -> object:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, key=key)  # type: ignore[attr-defined]
            .one_or_none()
        )
        return None if row is None else XComModel.deserialize_value(row)


if __name__ == "__main__":
    sys.exit(main())
