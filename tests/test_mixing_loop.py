"""Native awaitables in asyncio Tasks of yieldloop.Loop (one core under both).

An asyncio Task that awaits a native awaitable hands its trap to the kernel
of the Loop's core; cancelling the task withdraws the trap. Nothing stays
registered afterwards.
"""

import asyncio
import socket
import sys

import pytest

import epoll_state
import yieldloop as yl

LINUX = sys.platform.startswith("linux")


def run(main):
    return yl.run_asyncio(main())


def test_native_sleep_in_an_asyncio_task_waits_and_leaves_no_timer():
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await yl.sleep(0.02)
        return loop.time() - t0 >= 0.02, loop._core_stats["timers"]

    assert run(main) == (True, 0)


def test_asyncio_task_joins_a_native_task_it_spawned():
    async def child(x):
        await yl.sleep(0)
        return x * 2

    async def main():
        return await yl.spawn(child, 21)

    assert run(main) == 42


def test_native_task_error_reaches_the_asyncio_task_joining_it():
    async def child():
        await yl.sleep(0)
        raise ValueError("from native")

    async def main():
        with pytest.raises(ValueError, match="from native"):
            await yl.spawn(child)
        return "caught"

    assert run(main) == "caught"


def test_native_event_set_from_an_asyncio_callback_wakes_the_asyncio_task():
    async def main():
        ev = yl.Event()
        asyncio.get_running_loop().call_later(0.01, ev.set)
        await ev.wait()
        return ev.is_set()

    assert run(main) is True


def test_native_socket_recv_in_an_asyncio_task_leaves_no_fd_waiter():
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main():
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, b.send, b"hi")
        data = await yl.sock_recv(a, 10)
        if LINUX:
            assert not epoll_state.armed(a.fileno())
        return data, loop._core_stats["fds"]

    try:
        assert run(main) == (b"hi", 0)
    finally:
        a.close()
        b.close()


def test_cancelling_an_asyncio_task_on_a_native_sleep_removes_its_timer():
    async def main():
        loop = asyncio.get_running_loop()
        t = asyncio.ensure_future(yl.sleep(10))
        await asyncio.sleep(0.01)
        assert loop._core_stats["timers"] == 1
        t.cancel("stop")
        with pytest.raises(asyncio.CancelledError):
            await t
        return loop._core_stats["timers"]

    assert run(main) == 0


@pytest.mark.skipif(not LINUX, reason="reads /proc/self/fdinfo")
def test_cancelling_an_asyncio_task_on_a_native_fd_wait_removes_its_registration():
    a, b = socket.socketpair()

    async def main():
        loop = asyncio.get_running_loop()
        t = asyncio.ensure_future(yl.wait_readable(a))
        await asyncio.sleep(0.01)
        assert epoll_state.armed(a.fileno())
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        return epoll_state.registered(a.fileno()), loop._core_stats["fds"]

    try:
        assert run(main) == (False, 0)
    finally:
        a.close()
        b.close()


def test_cancelled_asyncio_waiter_of_a_native_event_is_not_woken_by_set():
    async def main():
        ev = yl.Event()
        woken = []

        async def waiter():
            await ev.wait()
            woken.append(True)

        t = asyncio.ensure_future(waiter())
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        ev.set()
        await asyncio.sleep(0.01)
        return woken, t.cancelled()

    assert run(main) == ([], True)


def test_cancelling_an_asyncio_task_joining_a_native_task_leaves_that_task_running():
    async def main():
        native = yl.spawn(yl.sleep, 0.02)
        joiner = asyncio.ensure_future(native)
        await asyncio.sleep(0)
        joiner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await joiner
        await native
        return native.done() and not native.cancelled()

    assert run(main) is True


def test_cancelling_a_native_task_reaches_the_asyncio_task_joining_it():
    async def main():
        native = yl.spawn(yl.sleep, 10)
        joiner = asyncio.ensure_future(native)
        await asyncio.sleep(0)
        native.cancel()
        with pytest.raises(asyncio.CancelledError):
            await joiner
        return native.cancelled()

    assert run(main) is True


def test_current_task_in_an_asyncio_task_is_asyncios():
    async def main():
        return yl.current_task() is asyncio.current_task()

    assert run(main) is True


def test_current_task_in_a_native_task_of_the_loop_is_that_task_for_both():
    async def child():
        await yl.sleep(0)
        return yl.current_task(), asyncio.current_task()

    async def main():
        t = yl.spawn(child)
        mine, theirs = await t
        return mine is t and theirs is t

    assert run(main) is True


def test_a_native_awaitable_shared_by_two_asyncio_tasks_is_refused_for_the_second():
    async def main():
        trap = yl.sleep(0.01).__await__()

        async def first():
            await _Await(trap)

        async def second():
            await _Await(trap)

        t1 = asyncio.ensure_future(first())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="resumed before the yieldloop kernel answered"):
            await second()
        await t1
        return "ok"

    assert run(main) == "ok"


class _Await:
    def __init__(self, it):
        self._it = it

    def __await__(self):
        return (yield from self._it)


def test_loop_closing_with_a_native_task_still_parked_lets_it_go_and_leaves_nothing():
    holder = {}

    async def main():
        loop = asyncio.get_running_loop()
        holder["loop"] = loop
        holder["task"] = yl.spawn(yl.sleep, 10)
        await asyncio.sleep(0.01)

    run(main)
    assert holder["task"].cancelled()
    assert holder["loop"]._core.stats() == {"ready": 0, "timers": 0, "fds": 0}


def test_spawn_from_asyncio_code_on_asyncios_own_loop_is_still_refused():
    async def main():
        yl.spawn(yl.sleep, 0)

    with pytest.raises(RuntimeError, match="needs a running yieldloop kernel"):
        asyncio.run(main())


def test_kernel_of_a_closed_loop_refuses_calls_from_other_threads():
    holder = {}

    async def main():
        holder["kernel"] = yl.current_kernel()

    run(main)
    with pytest.raises(RuntimeError, match="not running"):
        holder["kernel"].call_soon_threadsafe(print, "never")
