"""Every test run says which random order it ran in, so a failing order can be repeated."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import run_python

REPO = Path(__file__).resolve().parent.parent


def _collect(*args: str) -> str:
    done = run_python("-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", *args, cwd=REPO)
    assert done.returncode == 0, done
    return done.stdout


def test_a_quiet_run_prints_the_seed_that_repeats_its_order() -> None:
    out = _collect("-p", "randomly", "--randomly-seed=4242", "tests/test_demo_command.py")
    assert 'random test order: PYTEST_ARGS="--randomly-seed=4242" repeats it' in out.splitlines()


def test_a_run_in_file_order_prints_no_seed() -> None:
    assert "randomly-seed" not in _collect("-p", "no:randomly", "tests/test_demo_command.py")
