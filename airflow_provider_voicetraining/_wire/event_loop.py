"""A private event loop in a background thread, where the sync hook's calls run.

The loop thread is a daemon started on first use; after ``fork()`` (Celery prefork, the task
supervisor) the child starts its own. A call the caller abandons (``KeyboardInterrupt``,
Airflow's ``execution_timeout``) is cancelled on the loop. Why sync calls run on a loop at all:
the README's Design section ("One transport").
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
