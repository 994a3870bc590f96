"""``python tools/demo.py`` with an interpreter that lacks the project says what to run instead."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_python

REPO = Path(__file__).resolve().parent.parent


def test_the_demo_outside_the_projects_environment_says_to_run_make_demo(tmp_path: Path) -> None:
    # -S: no site-packages, as a system Python without Airflow or the project; run from elsewhere
    done = run_python("-S", str(REPO / "tools" / "demo.py"), cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr
    assert "cannot import airflow" in done.stderr and "`make demo`" in done.stderr
