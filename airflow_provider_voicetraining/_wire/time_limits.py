"""One way to bound an await in time that never loses the caller's cancellation.

Why not ``asyncio.wait_for``: up to Python 3.11 it returns the awaited result when the caller
is cancelled in the same loop iteration that the result arrives (CPython gh-86296), and the
cancellation is gone. For a trigger that meant the triggerer's ``cancel()`` was lost: the
trigger went on polling forever, orphaned (it hung a CI run). ``asyncio.timeout`` (3.11+) keeps
the cancellation and raises ``TimeoutError`` only for its own expiry.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable`` for at most ``seconds``; raise ``asyncio.TimeoutError`` after that.

    A cancellation of the caller always propagates, however close it comes to the result.
    (On Python 3.10, which has no ``asyncio.timeout``, this is ``asyncio.wait_for``, with the
    race described in the module docstring.)

    :param awaitable: what to wait for (cancelled if the time runs out).
    :param seconds: the time limit.
    """
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await awaitable
    return await asyncio.wait_for(awaitable, seconds)  # pragma: no cover (Python 3.10)
