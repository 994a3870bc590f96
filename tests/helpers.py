"""Small helpers shared by tests (no assertions hidden in here)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_voicetraining.hooks.voice_training import VoiceTrainingHook
from airflow_provider_voicetraining.models import VoiceTrainingJob

#: What a busy machine (both cores loaded by other processes) may add to a bounded wait, in
#: seconds. Tests that check a time bound allow it on top of the bound: the failures they catch
#: are waits that run to a 30-60 s budget or forever, so the slack never hides one.
SCHEDULING_SLACK = 5.0


def wait_for_state(
    hook: VoiceTrainingHook, job_id: str, states: set[str], timeout: float = 20.0, **kwargs: str
) -> VoiceTrainingJob:
    """Poll until the job reaches one of ``states``; raise with the last state on timeout."""
    deadline = time.monotonic() + timeout
    job = hook.get_job(job_id, **kwargs)
    while job.state not in states:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} stayed in {job.state}, expected {sorted(states)}")
        time.sleep(0.05)
        job = hook.get_job(job_id, **kwargs)
    return job


def run_python(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run this interpreter with ``args`` in ``cwd``; its output captured as text, never raising."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
