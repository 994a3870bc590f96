"""A private event loop in a background thread, where the sync hook's calls run.

Why: ``requests`` cannot bound a request's total time (its timeouts apply to each socket read,
so a server trickling a byte at a time holds a call forever), while an ``asyncio.timeout``
around an ``httpx`` request bounds connect, headers and body together and closes the
connection when it fires. Running sync calls on one loop per process gives the worker, the
sensor and the triggerer the very same transport code and the same bounds.

The loop thread is a daemon started on first use. After ``fork()`` (Celery prefork, the task
supervisor) the child starts its own: a thread does not survive a fork. A call that the caller
abandons (``KeyboardInterrupt``, Airflow's ``execution_timeout``) is cancelled on the loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None or self._pid != os.getpid() or not self._thread_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="voicetraining-http", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the private loop and wait for its result (or its exception)."""
        if self._thread is threading.current_thread():
            coroutine.close()
            raise RuntimeError("a sync MetaStudio call cannot run on the hook's own event loop thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._running_loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise


LOOP_THREAD = _LoopThread()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on the process's private loop; see the module docstring."""
    return LOOP_THREAD.run(coroutine)
