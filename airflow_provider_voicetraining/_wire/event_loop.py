"""Where the sync hook's calls run: the calling thread's own event loop, or a private loop thread.

A thread that runs no event loop (a task, a poking sensor) runs the call on a loop of its own,
kept for its later calls and closed when the thread ends; a thread that already runs a loop
(async code calling the sync hook) hands the call to a private loop thread (a daemon, started on
first use). After ``fork()`` the child starts afresh and never touches a loop it inherited. A
call the caller abandons (``KeyboardInterrupt``, Airflow's ``execution_timeout``) is cancelled
before the exception propagates. Why sync calls run on a loop at all, and why on the caller's
thread: docs/design.md ("One transport").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

#: Every thread's own loop, by a serial number: a loop is closed when its thread ends, never by
#: the garbage collector. In a forked child the parent's loops stay here untouched: closing one
#: would unregister its descriptors from the epoll instance the parent still uses.
_OWN_LOOPS: dict[int, asyncio.AbstractEventLoop] = {}
_SERIALS = itertools.count()


class _ThreadLoop:
    """Kept in a thread's local storage: the thread's own loop, closed when the thread ends."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.serial = next(_SERIALS)
        self.loop = _OWN_LOOPS[self.serial] = asyncio.new_event_loop()
        # kept on the instance: at interpreter exit the module's globals may be gone already
        self._registry, self._getpid = _OWN_LOOPS, os.getpid

    def __del__(self) -> None:
        if self.pid != self._getpid():
            return  # a forked child: the loop is the parent's
        loop = self._registry.pop(self.serial, None)
        if loop is not None and not loop.is_running() and not loop.is_closed():
            loop.close()


class _LoopThread:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None or self._pid != os.getpid() or not self._thread_alive():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="voicetraining-http", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def owns(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether ``loop`` is this process's private loop (without starting one)."""
        return loop is self._loop and self._pid == os.getpid()

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the private loop and wait for its result (or its exception)."""
        if self._thread is threading.current_thread():
            coroutine.close()
            raise RuntimeError("a sync MetaStudio call cannot run on the hook's own event loop thread")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop())
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise


LOOP_THREAD = _LoopThread()
_LOCAL = threading.local()


def loop_for_this_thread() -> asyncio.AbstractEventLoop:
    """The loop a sync call made in this thread runs on (see the module docstring)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        own: _ThreadLoop | None = getattr(_LOCAL, "own", None)
        if own is None or own.pid != os.getpid():
            own = _LOCAL.own = _ThreadLoop()
        return own.loop
    return LOOP_THREAD.loop()


def runs_here(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether a sync call in this thread may run on ``loop`` (its own loop, or the loop thread's)."""
    if loop.is_closed():
        return False
    if LOOP_THREAD.owns(loop):
        return True
    own: _ThreadLoop | None = getattr(_LOCAL, "own", None)
    return own is not None and own.loop is loop and own.pid == os.getpid() and not loop.is_running()


def run_on(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on ``loop`` (from :func:`loop_for_this_thread`) and return its result."""
    if LOOP_THREAD.owns(loop):
        return LOOP_THREAD.run(coroutine)
    task = loop.create_task(coroutine)
    try:
        return loop.run_until_complete(task)
    finally:
        if not task.done():  # the caller gave up (a signal's exception): end the call first
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(_settle())


#: Loop rounds a sync call's loop runs on after the call, for what the call left behind.
SETTLE_ROUNDS = 10


async def _settle() -> None:
    """Let what the call left ready run before its loop stops: an async generator finalized at
    the end of the call schedules its ``aclose()``, which must not wait for the thread's next call
    (or be lost when the thread ends). A few rounds at most; an exchange left to end by itself
    after its deadline is not waited for."""
    current = asyncio.current_task()
    await asyncio.sleep(0)  # a finalizer's scheduled task creation runs here
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)
        if all(t is current or t.done() for t in asyncio.all_tasks()):
            return
