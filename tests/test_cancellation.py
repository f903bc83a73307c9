"""Cancellation at every kind of wait, and what it leaves registered."""

import asyncio
import os
import socket
import sys

import pytest

import epoll_state
import yieldloop as yl

LINUX = sys.platform.startswith("linux")


def cancel_while(waiting, check, fd=None):
    """Spawn ``waiting``, cancel it once it blocks, then run ``check(stats)``.
    With ``fd``, also check what the OS holds: a registration for ``fd``
    while the task waits, none once it is cancelled."""

    async def main():
        epfd = yl.current_kernel().poller.fileno()
        t = yl.spawn(waiting)
        await yl.sleep(0.01)
        assert not t.done()
        if fd is not None and LINUX:
            assert epoll_state.armed(fd, epfd)
        assert t.cancel("stop")
        with pytest.raises(yl.CancelledError, match="stop"):
            await t
        assert t.cancelled()
        if fd is not None and LINUX:
            assert not epoll_state.registered(fd, epfd)
        check(yl.stats())

    yl.run(main)


def test_cancel_during_sleep_removes_the_timer():
    cancel_while(yl.sleep(60), lambda s: s["timers"] == 0 or pytest.fail(s))


def test_cancel_during_wait_readable_removes_the_fd_waiter():
    a, b = socket.socketpair()
    try:
        def check(s):
            assert s["fds"] == 0

        cancel_while(yl.wait_readable(a), check, a.fileno())
    finally:
        a.close()
        b.close()


def test_cancel_during_wait_writable_removes_the_fd_waiter():
    a, b = socket.socketpair()
    a.setblocking(False)
    try:
        while True:               # fill the buffer so writing would block
            try:
                a.send(b"x" * 65536)
            except BlockingIOError:
                break

        def check(s):
            assert s["fds"] == 0

        cancel_while(yl.wait_writable(a), check, a.fileno())
    finally:
        a.close()
        b.close()


def test_cancel_during_join_leaves_the_target_running():
    async def slow():
        await yl.sleep(0.05)
        return "finished"

    async def main():
        target = yl.spawn(slow)
        joiner = yl.spawn(target.__await__())
        await yl.sleep(0.01)
        joiner.cancel()
        with pytest.raises(yl.CancelledError):
            await joiner
        assert await target == "finished"

    yl.run(main)


def test_cancel_during_bare_yield_of_a_trap():
    def gen():
        yield yl.sleep(60)

    cancel_while(gen(), lambda s: s["timers"] == 0 or pytest.fail(s))


def test_cancel_of_a_ready_task_throws_at_its_next_step():
    steps = []

    def gen():
        steps.append(1)
        yield
        steps.append(2)

    async def main():
        t = yl.spawn(gen)
        t.cancel()
        with pytest.raises(yl.CancelledError):
            await t
        # A task cancelled before it started never runs its body.
        assert steps == []

    yl.run(main)


def test_task_cancelling_itself_gets_cancelled_at_its_next_wait():
    reached = []

    async def selfish():
        yl.current_task().cancel()
        reached.append("after cancel")
        await yl.sleep(10)
        reached.append("never")

    async def main():
        t = yl.spawn(selfish)
        with pytest.raises(yl.CancelledError):
            await t
        assert yl.stats()["timers"] == 0

    yl.run(main)
    assert reached == ["after cancel"]


def test_task_cancelled_right_before_returning_counts_as_cancelled():
    async def quitter():
        yl.current_task().cancel()
        return "value"

    async def main():
        t = yl.spawn(quitter)
        with pytest.raises(yl.CancelledError):
            await t
        assert t.cancelled()

    yl.run(main)


def test_cancelling_a_finished_task_returns_false():
    async def main():
        t = yl.spawn(yl.sleep(0))
        await t
        assert t.cancel() is False
        assert not t.cancelled()

    yl.run(main)


def test_task_may_catch_cancellation_and_finish_normally():
    async def stubborn():
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            return "handled"

    async def main():
        t = yl.spawn(stubborn)
        await yl.sleep(0.01)
        t.cancel()
        assert await t == "handled"
        assert not t.cancelled()
        assert t.cancelling() == 1

    yl.run(main)


def test_cancelling_and_uncancel_count_requests():
    async def main():
        t = yl.spawn(yl.sleep(10))
        await yl.sleep(0)
        t.cancel()
        t.cancel()
        assert t.cancelling() == 2
        assert t.uncancel() == 1
        with pytest.raises(yl.CancelledError):
            await t

    yl.run(main)


def test_cancel_twice_delivers_one_cancelled_error_as_asyncio_does():
    caught = []

    async def child():
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            caught.append(1)
        await yl.sleep(0)
        return "done"

    async def main():
        t = yl.spawn(child)
        await yl.sleep(0.01)
        t.cancel()
        t.cancel()
        # Like asyncio: the task sees one CancelledError; having handled it,
        # it may finish normally.
        assert await t == "done"
        assert caught == [1]

    yl.run(main)


def test_cancel_wakes_a_blocked_task_in_order_with_other_ready_tasks():
    order = []

    async def sleeper():
        try:
            await yl.sleep(10)
        except yl.CancelledError:
            order.append("cancelled")
            raise

    async def other():
        order.append("other")

    async def main():
        s = yl.spawn(sleeper)
        await yl.sleep(0)
        s.cancel()
        o = yl.spawn(other)
        await o
        with pytest.raises(yl.CancelledError):
            await s

    yl.run(main)
    assert order == ["cancelled", "other"]


def test_cancelled_fd_wait_lets_another_task_wait_on_that_fd():
    r, w = os.pipe()
    try:
        async def reader():
            await yl.wait_readable(r)
            return os.read(r, 10)

        async def main():
            epfd = yl.current_kernel().poller.fileno()
            first = yl.spawn(reader)
            await yl.sleep(0.01)
            first.cancel()
            with pytest.raises(yl.CancelledError):
                await first
            if LINUX:
                assert not epoll_state.registered(r, epfd)
            second = yl.spawn(reader)
            await yl.sleep(0.01)
            if LINUX:
                assert epoll_state.armed(r, epfd)
            os.write(w, b"hello")
            got = await second
            if LINUX:
                # The event disarmed it; it stays for the next wait to re-arm.
                assert not epoll_state.armed(r, epfd)
            return got

        assert yl.run(main) == b"hello"
    finally:
        os.close(r)
        os.close(w)


# --- the asyncio front end: what a cancelled asyncio wait leaves in the OS


def test_loop_cancelled_sock_recv_leaves_no_registration():
    a, b = socket.socketpair()
    a.setblocking(False)

    async def main():
        loop = asyncio.get_running_loop()
        t = loop.create_task(loop.sock_recv(a, 10))
        await asyncio.sleep(0.01)
        if LINUX:
            assert epoll_state.armed(a.fileno())
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        if LINUX:
            assert not epoll_state.registered(a.fileno())
        assert loop._core_stats["fds"] == 0        # the wake-up pipe is the core's, no waiter

    try:
        yl.run_asyncio(main())
    finally:
        a.close()
        b.close()


def test_loop_cancelled_wait_for_writable_leaves_no_registration():
    a, b = socket.socketpair()
    a.setblocking(False)
    while True:
        try:
            a.send(b"x" * 65536)
        except BlockingIOError:
            break

    async def main():
        loop = asyncio.get_running_loop()
        t = loop.create_task(loop.sock_sendall(a, b"y" * 100_000))
        await asyncio.sleep(0.01)
        if LINUX:
            assert epoll_state.armed(a.fileno())
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        if LINUX:
            assert not epoll_state.registered(a.fileno())

    try:
        yl.run_asyncio(main())
    finally:
        a.close()
        b.close()
