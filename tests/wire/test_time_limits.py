"""``within``: the time limit of every await in the transport and the shared poller.

The race it exists for: the caller is cancelled in the loop iteration in which the awaited
result arrives. ``asyncio.wait_for`` (Python <= 3.11) then returns the result and the
cancellation is lost, which left a cancelled trigger polling forever.
"""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_voicetraining._wire.time_limits import within


@pytest.mark.parametrize("iterations", [0, 1])
async def test_a_cancel_arriving_with_the_result_is_not_lost(iterations: int) -> None:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()
    caller = asyncio.ensure_future(within(asyncio.shield(answer), 30))
    await asyncio.sleep(0)  # the caller is waiting
    answer.set_result("answer")
    for _ in range(iterations):  # the result is on its way to the caller
        await asyncio.sleep(0)
    assert caller.cancel(), "the caller had already returned: the race was not reproduced"
    with pytest.raises(asyncio.CancelledError):
        await caller


async def test_a_queue_item_and_a_cancel_together_keep_both() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    caller = asyncio.ensure_future(within(queue.get(), 30))
    await asyncio.sleep(0)
    queue.put_nowait(1)
    assert caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert queue.get_nowait() == 1  # the item was not consumed by the cancelled caller


async def test_the_time_limit_raises_timeout_and_cancels_the_awaitable() -> None:
    started = asyncio.get_running_loop().time()
    slow = asyncio.ensure_future(asyncio.sleep(30))
    with pytest.raises(asyncio.TimeoutError):
        await within(slow, 0.05)
    assert slow.cancelled()
    assert asyncio.get_running_loop().time() - started < 5


async def test_a_result_within_the_limit_is_returned() -> None:
    async def answer() -> str:
        await asyncio.sleep(0.01)
        return "ok"

    assert await within(answer(), 5) == "ok"
