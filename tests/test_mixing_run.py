"""asyncio code in native tasks of yieldloop.run() (one core under both).

With asyncio imported before run() starts, the run has a yieldloop.Loop on
the kernel's core: asyncio's running loop while it runs. A native task
awaiting one of its futures parks until the future is done; cancellation
crosses both ways; the run's end cancels and waits for what is left.
"""

import asyncio
import sys

import pytest

import yieldloop as yl


def test_running_loop_in_a_native_task_is_a_loop_on_the_kernels_core():
    async def main():
        loop = asyncio.get_running_loop()
        return isinstance(loop, yl.Loop) and loop._core is yl.current_kernel().core

    assert yl.run(main) is True


def test_asyncio_sleep_in_a_native_task_waits():
    async def main():
        t0 = yl.time()
        result = await asyncio.sleep(0.02, "slept")
        return result, yl.time() - t0 >= 0.02

    assert yl.run(main) == ("slept", True)


def test_asyncio_wait_for_in_a_native_task_returns_the_result():
    async def main():
        return await asyncio.wait_for(asyncio.sleep(0.01, "in time"), 5)

    assert yl.run(main) == "in time"


def test_asyncio_wait_for_in_a_native_task_times_out_and_the_task_goes_on():
    async def main():
        with pytest.raises(asyncio.TimeoutError):     # TimeoutError from 3.11 on
            await asyncio.wait_for(asyncio.sleep(10), 0.01)
        await yl.sleep(0)
        return yl.current_task().cancelling()

    assert yl.run(main) == 0


def test_asyncio_queue_between_a_native_task_and_an_asyncio_task():
    async def producer(q):
        for i in range(3):
            await q.put(i)
            await asyncio.sleep(0)
        await q.put(None)

    async def main():
        q = asyncio.Queue(maxsize=1)
        asyncio.get_running_loop().create_task(producer(q))
        got = []
        while (item := await q.get()) is not None:
            got.append(item)
        return got

    assert yl.run(main) == [0, 1, 2]


def test_future_exception_is_raised_in_the_native_task_awaiting_it():
    async def main():
        fut = asyncio.get_running_loop().create_future()
        fut.get_loop().call_soon(fut.set_exception, KeyError("k"))
        with pytest.raises(KeyError):
            await fut
        return "raised"

    assert yl.run(main) == "raised"


def test_cancelling_a_native_task_awaiting_a_future_cancels_the_future():
    async def main():
        fut = asyncio.get_running_loop().create_future()

        async def waiter():
            await fut

        t = yl.spawn(waiter)
        await yl.sleep(0)
        t.cancel("stop")
        with pytest.raises(asyncio.CancelledError):
            await t
        return fut.cancelled()

    assert yl.run(main) is True


def test_cancelling_the_future_a_native_task_awaits_cancels_the_task():
    async def main():
        fut = asyncio.get_running_loop().create_future()

        async def waiter():
            await fut

        t = yl.spawn(waiter)
        await yl.sleep(0)
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return t.cancelled()

    assert yl.run(main) is True


def test_asyncio_current_task_in_a_native_task_is_that_task():
    async def main():
        return asyncio.current_task() is yl.current_task()

    assert yl.run(main) is True


def test_current_task_in_an_asyncio_task_of_the_run_is_asyncios():
    async def child():
        await yl.sleep(0)
        return yl.current_task() is asyncio.current_task()

    async def main():
        return await asyncio.get_running_loop().create_task(child())

    assert yl.run(main) is True


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is 3.11+")
def test_asyncio_timeout_cancels_a_native_task_waiting_on_a_native_trap():
    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await yl.sleep(10)
        return yl.stats()["timers"]

    assert yl.run(main) == 0


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is 3.11+")
def test_asyncio_taskgroup_in_a_native_task():
    async def main():
        async with asyncio.TaskGroup() as tg:
            a = tg.create_task(asyncio.sleep(0.01, "a"))
            b = tg.create_task(yl.sleep(0.01))
        return a.result(), b.result()

    assert yl.run(main) == ("a", None)


def test_run_end_cancels_mixed_tasks_left_parked_and_leaves_nothing():
    seen = {}

    async def asyncio_side():
        try:
            await yl.sleep(10)            # an asyncio task on a native trap
        except asyncio.CancelledError:
            seen["asyncio"] = "cancelled"
            raise

    async def native_side(fut):
        try:
            await fut                      # a native task on an asyncio future
        except asyncio.CancelledError:
            seen["native"] = "cancelled"
            raise

    async def main():
        loop = asyncio.get_running_loop()
        seen["loop"] = loop
        seen["task"] = loop.create_task(asyncio_side())
        seen["fut"] = loop.create_future()
        yl.spawn(native_side, seen["fut"])
        await yl.sleep(0.01)
        seen["kernel"] = yl.current_kernel()

    yl.run(main)
    assert seen["asyncio"] == "cancelled" and seen["native"] == "cancelled"
    assert seen["task"].cancelled() and seen["fut"].cancelled()
    assert seen["kernel"].stats()["tasks"] == 0
    assert seen["loop"].is_closed()
    assert seen["kernel"].core.stats() == {"ready": 0, "timers": 0, "fds": 0}
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.get_running_loop()


def test_future_of_another_loop_in_a_native_task_is_refused():
    other = asyncio.new_event_loop()
    try:
        async def main():
            await other.create_future()

        with pytest.raises(TypeError, match="an asyncio future"):
            yl.run(main)
    finally:
        other.close()


def test_run_from_asyncio_code_leaves_that_loops_running_marker_alone():
    async def native():
        await yl.sleep(0)
        return "native"

    async def main():
        loop = asyncio.get_running_loop()
        result = yl.run(native)
        return result, asyncio.get_running_loop() is loop

    assert asyncio.run(main()) == ("native", True)
