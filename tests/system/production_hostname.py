"""``[core] hostname_callable`` of the production-shape test: each component's own name.

Both Celery workers (and both triggerers) run on one machine; Airflow records the hostname of
the worker that ran each try (``task_instance.hostname``) and of each triggerer (``job``), so a
per-component name shows which worker a try ran on.
"""

from __future__ import annotations

import os
import socket


def component_name() -> str:
    return os.environ.get("VOICE_TRAINING_WORKER_NAME") or socket.getfqdn()
